package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// BenchmarkFeedPage measures the server's CPU and allocations per page, one request at a time, so
// that the load generator and the database do not compete for the cores:
//
//	go test -run '^$' -bench FeedPage -benchmem -cpuprofile cpu.out -memprofile mem.out .
//
// posts: the SPA's posts page (postsPage) as production serves it (production mode, PostgreSQL and
// Redis, request rate limits on, JSON access log), anonymous, through the real handler without a
// connection: every allocation is the server's.
// feed: the signed-in feed page (20 posts with author, tags, 3 comments with authors, counts and
// viewer flags) over real HTTP in development mode.
func BenchmarkFeedPage(b *testing.B) {
	b.Run("posts", func(b *testing.B) {
		page := newPostsPage(b)
		page.serve(b) // warm: documents parsed, entities cached
		cpu0 := cpuTime()
		for b.Loop() {
			page.serve(b)
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	})
	b.Run("feed", func(b *testing.B) {
		a := newAPI(b, "postgres")
		reader := a.register(b, "reader")
		authors := make([]user, 5)
		for i := range authors {
			authors[i] = a.register(b, fmt.Sprintf("author%d", i))
			a.as(reader).Do(b, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": authors[i].ID}, nil)
		}
		seedFeed(b, a, authors, reader, 60)
		c := a.as(reader)
		vars := map[string]any{"n": 20}
		var statements float64
		cpu0 := cpuTime()
		for b.Loop() {
			r := c.Post(b, feedPage, vars)
			if len(r.Errors) > 0 {
				b.Fatalf("feed: %+v", r.Errors)
			}
			statements, _ = r.Extensions["dbStatements"].(float64)
		}
		b.ReportMetric(statements, "statements/op")
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	})
}

// postsPageAllocations is the most heap allocations the posts page may cost the server (see
// TestPostsPageAllocations): 2,593 to 2,595 measured (from 6,980 to 7,009 before graph/execpatch.go
// resolved fields without middleware closures, marshaled lists sequentially and objects through
// its own field set; from 2,960 to 2,982 before each query scanned its rows into the same values,
// ent/template/scan.tmpl), and a margin. Lower it when a change saves some. Of those, ent with pgx
// and database/sql make about 1,800 (a value per column and row in the driver, edges, SQL
// building, a driver connection per statement), gqlgen's execution about 450, Agora's code with
// net/http about 300.
const postsPageAllocations = 2700

// TestPostsPageAllocations: the posts page, served as in BenchmarkFeedPage/posts, allocates at
// most postsPageAllocations times. Allocation and GC were most of the server's CPU per page:
// a change that adds allocations to every field or request shows here.
func TestPostsPageAllocations(t *testing.T) {
	page := newPostsPage(t)
	page.serve(t)
	allocs := testing.AllocsPerRun(50, func() { page.serve(t) })
	t.Logf("posts page: %.0f allocations", allocs)
	if allocs > postsPageAllocations {
		t.Errorf("the posts page costs %.0f allocations, more than its budget of %d", allocs, postsPageAllocations)
	}
}

// postsPageServer serves the posts page through Agora's handler as production runs it.
type postsPageServer struct {
	h    http.Handler
	body []byte
}

func newPostsPage(t testing.TB) postsPageServer {
	t.Helper()
	cfg := testConfig()
	cfg.Env = "production"
	cfg.GraphQL.Introspection, cfg.GraphQL.GraphiQL, cfg.GraphQL.FieldSuggestions = false, false, false
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Request budgets on (each request takes one event), raised above what the runs reach.
	cfg.RateLimits.RequestsPerIP = config.Budget{Burst: 1_000_000, Per: time.Minute}
	db := openDB(t, database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10})
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := serveApp(t, cfg, log, db, newRedis(t), nil)
	reader := a.register(t, "reader")
	authors := make([]user, 5)
	for i := range authors {
		authors[i] = a.register(t, fmt.Sprintf("author%d", i))
	}
	seedFeed(t, a, authors, reader, 30)
	body, err := json.Marshal(map[string]any{"query": postsPage})
	if err != nil {
		t.Fatal(err)
	}
	return postsPageServer{h: a.handler, body: body}
}

// serve answers one posts page and checks that it is whole.
func (p postsPageServer) serve(t testing.TB) {
	r := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/graphql", bytes.NewReader(p.body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/graphql-response+json")
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) || !bytes.Contains(w.Body.Bytes(), []byte(`"hasNextPage":true`)) {
		t.Fatalf("posts page: %d %s", w.Code, w.Body.Bytes())
	}
}

// cpuTime is the CPU time this process used so far: unlike ns/op, it does not count waiting for
// the database or for other processes on the machine. (It includes the client's share.)
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
