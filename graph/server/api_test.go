package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/agora/agora/graph/server"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/media"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/testenv"
)

// TestMain starts the test servers the suite shares and stops them at the end.
func TestMain(m *testing.M) { testenv.Main(m) }

// api is a running Agora on a fresh database, reached over real HTTP.
type api struct {
	testenv.GraphQL
	srv      *httptest.Server
	handler  http.Handler // what srv serves, for benchmarks that call it without a connection
	db       *database.DB
	accounts *account.Service
	live     *live.Service
	images   *media.Service
	cfg      config.Config
	jobs     *jobs.Queue
	notices  *notify.Service
}

// settle waits until the jobs the requests so far inserted (notifications, mail) have run.
func (a *api) settle(t testing.TB) {
	t.Helper()
	testenv.Settle(t, a.jobs)
}

// eachDB runs fn against a fresh Agora on PostgreSQL and on SQLite.
func eachDB(t *testing.T, fn func(t *testing.T, a *api)) {
	for _, name := range []string{"postgres", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newAPI(t, name))
		})
	}
}

// newAPI starts Agora on a fresh database. Sign-in limits are lifted unless limits gives them
// (per account, per IP).
func newAPI(t testing.TB, dialect string, limits ...string) *api {
	t.Helper()
	o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")}
	if dialect == "postgres" {
		o = database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10}
	}
	db := openDB(t, o)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return startAPI(t, db, nil, limits...)
}

func openDB(t testing.TB, o database.Options) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// startAPI serves Agora on db (and Redis, when rdb is not nil) over a real HTTP server.
func startAPI(t testing.TB, db *database.DB, rdb redis.UniversalClient, limits ...string) *api {
	t.Helper()
	return startAPIWith(t, db, rdb, func(cfg *config.Config) {
		if limits != nil {
			cfg.RateLimits.LoginPerAccount, cfg.RateLimits.LoginPerIP = budget(t, limits[0]), budget(t, limits[1])
		}
	})
}

// budget parses a rate budget written as its variable is ("3/1h").
func budget(t testing.TB, s string) config.Budget {
	t.Helper()
	b, err := config.ParseBudget(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testConfig is the configuration of test servers: the defaults (development), with budgets no
// test reaches unless it sets its own, and shorter sessions and socket checks.
func testConfig() config.Config {
	cfg := config.Defaults()
	cfg.Auth.JWTSecret = "test-secret-test-secret-test-secret!"
	cfg.Auth.TokenIssuer, cfg.Auth.AccessTokenTTL, cfg.Auth.SessionTTL = "agora-test", time.Hour, 24*time.Hour
	cfg.Realtime.MaxSubscriptions, cfg.Realtime.SocketRecheck = 5, 50*time.Millisecond
	// caps on connections no test reaches unless it sets its own
	cfg.Channels.SocketsPerIP, cfg.Channels.SocketsPerUser = 1000, 1000
	unreached := config.Budget{Burst: 100_000, Per: time.Minute}
	cfg.RateLimits = config.RateLimits{LoginPerAccount: config.Budget{Burst: 1000, Per: time.Minute}, LoginPerIP: config.Budget{Burst: 1000, Per: time.Minute},
		RequestsPerIP: unreached, RequestsPerUser: unreached, SignUpsPerIP: unreached, MessagesPerUser: unreached, SearchesPerCaller: unreached,
		AccountMail: unreached}
	// A GitHub provider for the authorization matrix, whose sign-ins nobody finishes.
	cfg.Identity.GitHub = config.GitHub{ClientID: "matrix", ClientSecret: "matrix", WebURL: "http://127.0.0.1:9", APIURL: "http://127.0.0.1:9"}
	cfg.Identity.RedirectURLs = []string{matrixRedirect}
	cfg.Media.UploadsPerUser = unreached
	cfg.Media.SweepInterval = 0 // tests sweep when they mean to (TestImageSweepJob runs the job)
	cfg.Jobs.DigestEvery = 0    // and mail digests (TestNotificationMail)
	// Never the package's folder; serveApp gives each test a folder of its own.
	cfg.Mail.Dir = filepath.Join(os.TempDir(), "agora-test-mail")
	return cfg
}

// startAPIWith is startAPI with the test configuration changed by configure.
func startAPIWith(t testing.TB, db *database.DB, rdb redis.UniversalClient, configure func(*config.Config)) *api {
	t.Helper()
	cfg := testConfig()
	configure(&cfg)
	return serveApp(t, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), db, rdb, nil)
}

// serveApp serves Agora configured by cfg, logging to log and tracing with tracing (nil: off).
func serveApp(t testing.TB, cfg config.Config, log *slog.Logger, db *database.DB, rdb redis.UniversalClient, tracing trace.TracerProvider) *api {
	t.Helper()
	if cfg.Media.Dir == config.Defaults().Media.Dir {
		cfg.Media.Dir = filepath.Join(t.TempDir(), "media") // never the package's folder
	}
	if cfg.Mail.Dir == testConfig().Mail.Dir {
		cfg.Mail.Dir = filepath.Join(t.TempDir(), "mail")
	}
	a, err := server.New(cfg, log, db, rdb, tracing)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	startJobs(t, a)
	h := a.Handler()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &api{GraphQL: testenv.GraphQL{URL: srv.URL + "/graphql"}, srv: srv, handler: h, db: db, accounts: a.Accounts, live: a.Live, jobs: a.Queue, images: a.Images, notices: a.Notices, cfg: cfg}
}

// startJobs starts the app's job workers, stopped gracefully when t ends.
func startJobs(t testing.TB, a *server.App) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := a.StartJobs(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 20*time.Second)
		defer done()
		if err := a.StopJobs(stop); err != nil {
			t.Errorf("stopping the job workers: %v", err)
		}
		cancel()
	})
}

// newRedis starts a redis-server for this test and returns a client of it.
func newRedis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// user is a registered test user.
type user struct {
	ID, Username, Token string
}

const registerMutation = `mutation($in: RegisterInput!) {
  register(input: $in) { accessToken expiresAt user { id username } }
}`

// register signs a new user up and returns it with its token.
func (a *api) register(t testing.TB, username string) user {
	t.Helper()
	var out struct {
		Register struct {
			AccessToken string
			User        struct{ ID, Username string }
		}
	}
	a.Do(t, registerMutation, map[string]any{"in": map[string]any{
		"username": username, "email": username + "@example.com", "password": "password-" + username,
	}}, &out)
	return user{ID: out.Register.User.ID, Username: out.Register.User.Username, Token: out.Register.AccessToken}
}

// as returns a client signed in as u.
func (a *api) as(u user) testenv.GraphQL { return a.GraphQL.As(u.Token) }

const createPostMutation = `mutation($in: CreatePostInput!) {
  createPost(input: $in) { post { id slug title status publishedAt tags { name } author { username } } }
}`

type post struct {
	ID, Slug, Title, Status string
	PublishedAt             *string
	Tags                    []struct{ Name string }
	Author                  struct{ Username string }
}

// createPost writes a post as u.
func (a *api) createPost(t *testing.T, u user, in map[string]any) post {
	t.Helper()
	var out struct{ CreatePost struct{ Post post } }
	a.as(u).Do(t, createPostMutation, map[string]any{"in": in}, &out)
	return out.CreatePost.Post
}

// count returns the number of rows of a table, to prove failed writes changed nothing.
func (a *api) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := a.db.SQL.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// setRole gives u a role directly in the database, as an operator would with `agora role`.
func (a *api) setRole(t *testing.T, u user, role string) {
	t.Helper()
	if err := a.accounts.SetRoleByUsername(context.Background(), u.Username, role); err != nil {
		t.Fatal(err)
	}
}
