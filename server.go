// Agora is the GraphQL backend of a community publishing app.
//
//	agora [serve]          serve the API (the default)
//	agora migrate          apply pending database migrations and exit (-pending: list them)
//	agora seed             load the demo data set and exit
//	agora role NAME ROLE   give user NAME the role USER, MODERATOR or ADMIN (e.g. the first admin)
//	agora schema [subgraph]  print the public schema, or the subgraph SDL a federation router reads
//	agora version          print the module version, VCS revision and Go version
//	agora healthcheck      exit 0 when the Agora on this machine's PORT is ready (container health checks)
//
// agora --help and agora help COMMAND describe each (cli.go).
package main

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go tool gqlgen generate
//go:generate sh -c "go run . schema > schema.graphql"

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/formatter"
	"go.opentelemetry.io/otel/trace"

	"github.com/agora/agora/graph"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/httpx"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/message"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/publish"
	"github.com/agora/agora/internal/pubsub"
	"github.com/agora/agora/internal/ratelimit"
	"github.com/agora/agora/internal/search"
	"github.com/agora/agora/internal/seed"
	"github.com/agora/agora/internal/social"
	"github.com/agora/agora/internal/telemetry"
	"github.com/agora/agora/internal/trusted"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	var usage usageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "agora:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "agora:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	inv, err := parseArgs(args, os.Stdout)
	if err != nil {
		return err
	}
	cmd := inv.cmd
	switch cmd { // these need no configuration, database or network
	case "schema":
		return printSchema(os.Stdout, inv.args)
	case "version":
		return printVersion(os.Stdout)
	}
	cfg, err := loadConfig(inv.envFile)
	if err != nil {
		return err
	}
	if cmd == "healthcheck" {
		return healthcheck(ctx, cfg.Addr, inv.timeout)
	}
	log := newLogger(cfg)
	log.Info("starting", "command", cmd, "config", cfg.String())
	if on := cfg.Exposed(); len(on) > 0 {
		log.Warn("production with the schema exposed, as configured", "settings", on)
	}

	db, err := database.Open(ctx, database.Options{PostgresURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath,
		MaxConns: cfg.DBMaxConns, StatementTimeout: cfg.StatementTimeout})
	if err != nil {
		return err
	}
	defer db.Close()

	if cmd == "migrate" {
		if inv.pending {
			return listPending(ctx, os.Stdout, db)
		}
		return migrate(ctx, log, db)
	}
	if cfg.AutoMigrate {
		if err := migrate(ctx, log, db); err != nil {
			return err
		}
	} else if pending, err := db.Pending(ctx); err != nil {
		return err
	} else if len(pending) > 0 {
		return fmt.Errorf("%d migrations pending and AGORA_AUTO_MIGRATE=false: run `agora migrate`", len(pending))
	}

	secret := []byte(cfg.JWTSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
		log.Warn("AGORA_JWT_SECRET is not set: using a random secret, so access tokens stop working at restart")
	}
	var rdb redis.UniversalClient // a nil interface, not a nil *redis.Client, when unset
	if cfg.RedisURL != "" {
		redis.SetLogger(redisLogger{log})
		client, err := openRedis(ctx, log, cfg.RedisURL)
		if err != nil {
			return err
		}
		defer client.Close()
		rdb = client
	}
	tracing, stopTracing, err := telemetry.NewTracerProvider(ctx)
	if err != nil {
		return fmt.Errorf("OpenTelemetry (OTEL_* variables): %w", err)
	}
	if telemetry.Tracing(tracing) {
		log.Info("exporting traces over OTLP/HTTP (OTEL_EXPORTER_OTLP_* variables)")
	}
	defer func() { // flush the spans still buffered
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(ctx); err != nil {
			log.Warn("exporting the last spans failed", "err", err)
		}
	}()
	a, err := newApp(cfg, log, db, rdb, secret, tracing)
	if err != nil {
		return err
	}
	defer a.Close()
	if cmd == "role" {
		if err := a.accounts.SetRoleByUsername(ctx, inv.args[0], inv.args[1]); err != nil {
			return err
		}
		log.Info("role set", "user", inv.args[0], "role", strings.ToUpper(inv.args[1]))
		return nil
	}
	if cmd == "seed" {
		if err := seed.Load(ctx, db.Client, a.accounts, a.publish, a.social); err != nil {
			return err
		}
		log.Info("demo data loaded", "password", seed.Password)
		return nil
	}

	srv := newServer(cfg, a.handler())
	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe() }()
	if cfg.MetricsAddr != "" {
		l, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("AGORA_METRICS_ADDR: %w", err)
		}
		metrics := &http.Server{Handler: a.metricsHandler(), ReadHeaderTimeout: cfg.ReadHeaderTimeout}
		go func() { errc <- fmt.Errorf("AGORA_METRICS_ADDR: %w", metrics.Serve(l)) }()
		defer metrics.Close()
		log.Info("serving metrics", "addr", cfg.MetricsAddr)
	}
	if cfg.GraphiQL {
		log.Info("listening", "addr", cfg.Addr, "graphiql", "http://localhost"+cfg.Addr+"/")
	} else {
		log.Info("listening", "addr", cfg.Addr)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownGrace)
	a.Close() // end the subscriptions first: open event streams would hold the shutdown up
	// Shutdown stops listening at once, closes idle connections and waits for the requests in
	// flight; those still running after the grace period are cut off.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = srv.Close()
		return fmt.Errorf("requests still running after AGORA_SHUTDOWN_GRACE (%s) were cut off: %w", cfg.ShutdownGrace, err)
	}
	log.Info("stopped")
	return nil
}

// newServer is the HTTP server for handler, with the configured timeouts.
func newServer(cfg config.Config, handler http.Handler) *http.Server {
	return &http.Server{
		Addr:              cfg.Addr,
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout, // event streams lift it (graph's streams)
		IdleTimeout:       cfg.IdleTimeout,
	}
}

// loadConfig reads the configuration, with the variables of envFile ("" : ./.env if there is one).
func loadConfig(envFile string) (config.Config, error) {
	if envFile == "" {
		return config.Load()
	}
	return config.LoadFile(envFile)
}

// listPending prints the migrations the database lacks, one file name a line.
func listPending(ctx context.Context, w io.Writer, db *database.DB) error {
	pending, err := db.Pending(ctx)
	if err != nil {
		return err
	}
	for _, m := range pending {
		fmt.Fprintln(w, m.Name)
	}
	return nil
}

// healthcheck asks the Agora serving on this machine at addr whether it is ready (GET /readyz),
// for container health checks: images without a shell or curl run the binary itself.
func healthcheck(ctx context.Context, addr string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1"+addr+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /readyz answered %s", res.Status)
	}
	return nil
}

// printSchema writes the public schema (what clients generate code from), or with "subgraph" the
// SDL Agora gives a federation router (_service.sdl).
func printSchema(w io.Writer, args []string) error {
	switch {
	case len(args) == 0:
		formatter.NewFormatter(w, formatter.WithIndent("  ")).FormatSchema(graph.NewExecutableSchema(graph.Config{}).Schema())
		return nil
	case len(args) == 1 && args[0] == "subgraph":
		_, err := io.WriteString(w, graph.SubgraphSDL())
		return err
	}
	return errors.New("usage: agora schema [subgraph]")
}

// app is Agora's dependency graph, built once from the configuration.
type app struct {
	cache    *loader.Cache         // entities and counts shared by replicas through Redis, or in-process
	apq      graphql.Cache[string] // automatic persisted queries
	metrics  *telemetry.Metrics
	tracing  trace.TracerProvider // a no-op one when traces are off
	log      *slog.Logger
	db       *database.DB
	tokens   *auth.Tokens
	accounts *account.Service
	publish  *publish.Service
	social   *social.Service
	notify   *notify.Service
	message  *message.Service
	live     *live.Service
	search   *search.Service
	bus      pubsub.Bus
	realtime graph.Realtime
	limits   graph.Limits
	requests func(http.Handler) http.Handler // the per-request budget of the caller
	cfg      config.Config                   // what handler reads: exposure, timeouts, body limit, batching, CORS, CSRF, compression
	trusted  *trusted.Manifest               // the only operations that run, when set
}

// newApp wires the services. rdb, when not nil, holds the state replicas share (rate limits,
// persisted queries, cached entities and counts); without it that state is in-process. tracing
// records the spans of requests (HTTP, GraphQL, loaders, SQL, and Redis commands of rdb); nil or
// a no-op provider leaves tracing out.
func newApp(cfg config.Config, log *slog.Logger, db *database.DB, rdb redis.UniversalClient, jwtSecret []byte, tracing trace.TracerProvider) (*app, error) {
	var errs []error
	budget := func(name, value string) ratelimit.Limit {
		l, err := ratelimit.Parse(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return l
	}
	perAccount, perIP := budget("AGORA_LOGIN_LIMIT_ACCOUNT", cfg.LoginPerAcct), budget("AGORA_LOGIN_LIMIT_IP", cfg.LoginPerIP)
	anonRequests, userRequests := budget("AGORA_RATE_LIMIT_IP", cfg.RateLimitIP), budget("AGORA_RATE_LIMIT_USER", cfg.RateLimitUser)
	signUps, messages := budget("AGORA_RATE_LIMIT_REGISTER", cfg.RateLimitReg), budget("AGORA_RATE_LIMIT_MESSAGE", cfg.RateLimitMsg)
	searches := budget("AGORA_RATE_LIMIT_SEARCH", cfg.RateLimitSearch)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if rdb != nil && telemetry.Tracing(tracing) {
		// Command names only: arguments hold cached rows and tokens.
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tracing),
			redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
			return nil, err
		}
	}
	var previous [][]byte
	for _, k := range cfg.JWTPrevious {
		previous = append(previous, []byte(k))
	}
	tokens := auth.NewTokens(jwtSecret, previous, cfg.TokenIssuer, cfg.AccessTokenTTL)
	db.Client.Intercept(loader.Prefetch())
	// State replicas share lives in Redis when there is one, in this process otherwise.
	var (
		limiter ratelimit.Limiter     = ratelimit.NewMemory()
		apq     graphql.Cache[string] = lru.New[string](1000)
		store   cache.Store           = cache.NewMemoryStore(200_000)
		bus     pubsub.Bus            = pubsub.NewMemory(pubsub.Options{})
	)
	if rdb != nil {
		// While Redis cannot be reached, each of these degrades on its own and uses Redis again as
		// soon as it answers: rate limits count in this process, persisted queries are kept in
		// this process too, cache reads miss (and go to the database: an in-process cache would
		// miss other replicas' invalidations), subscriptions cannot start and events are lost.
		limiter = &ratelimit.Fallback{Primary: ratelimit.NewRedis(rdb, "agora:ratelimit:"), Secondary: limiter, Log: log}
		apq = cache.Layered{Near: apq, Far: cache.NewRedisStrings(rdb, "agora:apq:", 7*24*time.Hour)}
		store = cache.NewRedisStore(rdb)
		bus = pubsub.NewRedis(rdb, "agora:events:", pubsub.Options{})
	}
	m := telemetry.New()
	limiter = ratelimit.Observed{Limiter: limiter, Refused: m.RateLimited}
	events := live.New(db.Client, bus, log)
	notices := notify.New(db.Client, events, log)
	loaderCache := loader.NewCache(store)
	loaderCache.Watch(db.Client) // every write invalidates the cached entities and counts it changes, after commit
	m.CacheKeys(func() (int64, int64, int64) {
		s := loaderCache.Stats()
		return s.Hits, s.Misses, s.Collapsed
	})
	m.Subscriptions(func() (int64, int64) {
		s := events.Stats()
		return s.Started, s.Active
	})
	m.DBPool(db.SQL.Stats)
	a := &app{
		metrics: m,
		tracing: tracing,
		apq:     apq,
		cfg:     cfg,
		log:     log,
		db:      db,
		tokens:  tokens,
		accounts: account.New(db.Client, tokens, cfg.SessionTTL, account.LoginLimits{
			Limiter: limiter, PerAccount: perAccount, PerIP: perIP, SignUps: signUps,
		}),
		cache:   loaderCache,
		publish: publish.New(db.Client, events, notices),
		social:  social.New(db.Client, notices),
		notify:  notices,
		message: message.New(db.Client, events, notices, limiter, messages),
		live:    events,
		search:  search.New(db.Client, db.Dialect, limiter, searches),
		bus:     bus,
	}
	a.requests = ratelimit.Middleware(limiter, func(r *http.Request) (string, ratelimit.Limit) {
		if v := auth.FromContext(r.Context()); v.Authenticated() {
			return "request:user:" + strconv.Itoa(v.UserID), userRequests
		}
		return "request:ip:" + auth.ClientIP(r.Context()), anonRequests
	})
	if cfg.TrustedDocuments != "" {
		var err error
		if a.trusted, err = trusted.Load(cfg.TrustedDocuments); err != nil {
			return nil, fmt.Errorf("AGORA_TRUSTED_DOCUMENTS: %w", err)
		}
		log.Info("trusted documents only", "manifest", cfg.TrustedDocuments, "operations", a.trusted.Len())
	}
	a.limits = graph.Limits{Depth: cfg.MaxDepth, Aliases: cfg.MaxAliases, RootFields: cfg.MaxRootFields,
		Tokens: cfg.MaxTokens, Cost: cfg.MaxCost}
	a.realtime = graph.Realtime{
		Authenticate: func(ctx context.Context, authorization string) (auth.Viewer, error) {
			return auth.Authenticate(ctx, tokens, a.accounts.Lookup, authorization)
		},
		AllowedOrigins:   cfg.Origins,
		MaxSubscriptions: cfg.MaxSubs,
		Recheck:          cfg.SocketRecheck,
		KeepAlive:        15 * time.Second,
	}
	return a, nil
}

// Close ends the subscriptions this process serves.
func (a *app) Close() { _ = a.bus.Close() }

// handler is the whole HTTP surface: GraphQL at /graphql, GraphiQL at / (when enabled), health
// checks, metrics.
func (a *app) handler() http.Handler {
	c := a.cfg
	api := graph.NewHandler(graph.Deps{Client: a.db.Client, Accounts: a.accounts, Publish: a.publish, Social: a.social,
		Notify: a.notify, Message: a.message, Live: a.live, Search: a.search, Realtime: a.realtime, Limits: a.limits,
		Log: a.log, PersistedQueries: a.apq, PublicMaxAge: c.PublicMaxAge, ReportStatements: !c.Production(),
		Introspection: c.Introspection, FieldSuggestions: c.FieldSuggestions, TrustedDocuments: a.trusted,
		OperationTimeout: c.OperationTimeout, Metrics: a.metrics})
	// Each operation of a batch passes the statement counter, auth, the rate limit and loaders on
	// its own.
	var gql http.Handler = httpx.Batch(c.BatchMax, database.CountStatements(a.metrics.ObserveStatements,
		auth.Middleware(a.tokens, a.accounts.Lookup, a.requests(loader.Middleware(a.db.Client, a.cache, a.metrics.LoaderBatch, api)))))
	if c.CSRFPrevention {
		gql = httpx.PreventCSRF(gql)
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", httpx.CORS(c.Origins, httpx.LimitBody(c.MaxBodyBytes, gql)))
	if c.GraphiQL {
		mux.Handle("/", graph.NewGraphiQL("/graphql"))
	}
	if c.MetricsAddr == "" {
		mux.Handle("/metrics", a.metrics.Handler())
	}
	httpx.Health(mux, a.db.SQL.PingContext)
	routes := []string{"/graphql", "/metrics", "/healthz", "/readyz", "/"}
	return httpx.WithRequestID(httpx.Trace(a.tracing, httpx.AccessLog(a.log, a.metrics.HTTPObserver(routes), httpx.Compress(c.CompressMinBytes, mux))))
}

// metricsHandler serves /metrics alone, for AGORA_METRICS_ADDR.
func (a *app) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.metrics.Handler())
	return mux
}

// openRedis returns a client for url: one Redis (redis://host:6379/0), or the master a Redis
// Sentinel set-up names (redis://sentinel1:26379?master_name=NAME&addr=sentinel2:26379; the
// client follows failovers). Redis that does not answer at start-up is no reason not to start:
// Agora runs degraded (see newApp) and go-redis connects once Redis is up. Timeouts and retries
// are kept short unless the URL sets them (dial_timeout, read_timeout, max_retries…), so a Redis
// that is down costs each request little.
func openRedis(ctx context.Context, log *slog.Logger, url string) (redis.UniversalClient, error) {
	var rdb *redis.Client
	if strings.Contains(url, "master_name=") {
		opts, err := redis.ParseFailoverURL(url)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		shortWaits(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.MaxRetries, &opts.DialerRetries)
		rdb = redis.NewFailoverClient(opts)
	} else {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		shortWaits(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.MaxRetries, &opts.DialerRetries)
		rdb = redis.NewClient(opts)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		log.Warn("Redis does not answer: starting without it until it does. Meanwhile rate limits and persisted queries "+
			"are this replica's own, cached entities are read from the database, and subscriptions are unavailable",
			"err", err)
	}
	return rdb, nil
}

// shortWaits sets the timeouts (1 s) and retries (one) the URL left unset.
func shortWaits(dial, read, write *time.Duration, retries, dialRetries *int) {
	for _, d := range []*time.Duration{dial, read, write} {
		if *d == 0 {
			*d = time.Second
		}
	}
	for _, n := range []*int{retries, dialRetries} {
		if *n == 0 {
			*n = 1
		}
	}
}

// redisLogger takes go-redis's own messages (one per failed dial while Redis is down) to the
// debug log: the rate limiter, which every request passes, logs an outage once at warning level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

func migrate(ctx context.Context, log *slog.Logger, db *database.DB) error {
	applied, err := db.Migrate(ctx)
	for _, name := range applied {
		log.Info("migration applied", "file", name)
	}
	return err
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
