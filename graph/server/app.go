// Package server is Agora's GraphQL server: the application built from its configuration, the
// HTTP surface, gqlgen's transports and extensions, directives and the error presenter.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
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
	"github.com/agora/agora/internal/social"
	"github.com/agora/agora/internal/telemetry"
	"github.com/agora/agora/internal/trusted"
)

// App is Agora's dependency graph, built once from the configuration: the services the resolvers
// use, and what the server around them needs.
type App struct {
	graph.Resolver

	cfg      config.Config
	log      *slog.Logger
	db       *database.DB
	tokens   *auth.Tokens
	cache    *loader.Cache    // entities and counts shared by replicas through Redis, or in-process
	apq      persistedQueries // automatic persisted queries
	bus      pubsub.Bus
	metrics  *telemetry.Metrics
	tracing  trace.TracerProvider // a no-op one when traces are off
	budget   requestBudget        // the per-request budget of the caller, also spent by socket operations
	realtime Realtime
	trusted  *trusted.Manifest // the only operations that run, when set
	guard    *cache.Guard      // bounds the waits on Redis; nil without Redis
}

// New builds Agora on db. rdb, when not nil, holds the state replicas share (rate limits,
// persisted queries, cached entities and counts); without it that state is in-process. tracing
// records the spans of requests (HTTP, GraphQL, loaders, SQL, and Redis commands of rdb); nil or a
// no-op provider leaves tracing out. cfg.JWTSecret signs access tokens.
func New(cfg config.Config, log *slog.Logger, db *database.DB, rdb redis.UniversalClient, tracing trace.TracerProvider) (*App, error) {
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
	channels := cfg.Channels.WithDefaults()
	apqRegistrations := budget("AGORA_APQ_REGISTER_LIMIT", channels.APQRegister)
	perAccountTotal := budget("AGORA_LOGIN_LIMIT_ACCOUNT_TOTAL", channels.LoginPerAcctAll)
	if len(cfg.JWTSecret) == 0 {
		errs = append(errs, errors.New("AGORA_JWT_SECRET is empty"))
	}
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
	tokens := auth.NewTokens([]byte(cfg.JWTSecret), previous, cfg.TokenIssuer, cfg.AccessTokenTTL)
	db.Client.Intercept(loader.Prefetch())
	// State replicas share lives in Redis when there is one, in this process otherwise.
	var (
		limiter ratelimit.Limiter     = ratelimit.NewMemory()
		apq     graphql.Cache[string] = cache.NewLRUStrings(channels.APQCacheBytes)
		store   cache.Store           = cache.NewMemoryStore(200_000)
		topics                        = pubsub.Options{MaxPerTopic: channels.TopicSubscribers}
		bus     pubsub.Bus            = pubsub.NewMemory(topics)
		guard   *cache.Guard          // bounds the waits on Redis, when there is one
	)
	if rdb != nil {
		// While Redis cannot be reached, each of these degrades on its own and uses Redis again as
		// soon as it answers: rate limits count in this process, persisted queries are kept in
		// this process too, cache reads miss (and go to the database: an in-process cache would
		// miss other replicas' invalidations), subscriptions cannot start and events are lost.
		// A Redis that stops answering costs a request at most AGORA_REDIS_MAX_WAIT: the guard
		// then fails its commands at once until Redis answers again, and first sends it the
		// invalidations that failed meanwhile.
		guard = cache.NewGuard(rdb, log, channels.RedisMaxWait)
		limiter = &ratelimit.Fallback{Primary: ratelimit.NewRedis(rdb, "agora:ratelimit:"), Secondary: limiter, Log: log}
		apq = cache.Layered{Near: apq, Far: cache.NewRedisStrings(rdb, "agora:apq:", channels.APQTTL)}
		redisStore := cache.NewRedisStore(rdb)
		guard.OnRecover(redisStore.Flush)
		store = redisStore
		topics.Up = guard.Up
		bus = pubsub.NewRedis(rdb, "agora:events:", topics)
	}
	m := telemetry.New()
	limiter = ratelimit.Observed{Limiter: limiter, Refused: m.RateLimited}
	events := live.New(db.Client, bus, log)
	notices := notify.New(db.Client, events, log)
	loaderCache := loader.NewCache(store)
	m.CacheKeys(func() (int64, int64, int64) {
		s := loaderCache.Stats()
		return s.Hits, s.Misses, s.Collapsed
	})
	m.Subscriptions(func() (int64, int64) {
		s := events.Stats()
		return s.Started, s.Active
	})
	m.DBPool(db.SQL.Stats)
	accounts := account.New(db.Client, store, tokens, cfg.SessionTTL, account.LoginLimits{
		Limiter: limiter, PerAccount: perAccount, PerAccountTotal: perAccountTotal, PerIP: perIP, SignUps: signUps,
	})
	a := &App{
		Resolver: graph.Resolver{
			Client:   db.Client,
			Accounts: accounts,
			Publish:  publish.New(db.Client, store, events, notices),
			Social:   social.New(db.Client, store, notices),
			Notices:  notices,
			Messages: message.New(db.Client, events, notices, limiter, messages),
			Live:     events,
			Searcher: search.New(db.Client, db.Dialect, limiter, searches),
		},
		cfg:     cfg,
		log:     log,
		db:      db,
		tokens:  tokens,
		cache:   loaderCache,
		bus:     bus,
		metrics: m,
		tracing: tracing,
	}
	a.budget = requestBudget{limiter: limiter, anon: anonRequests, user: userRequests}
	a.guard = guard
	a.apq = persistedQueries{cache: apq, maxBytes: channels.APQMaxBytes, register: func(ctx context.Context) bool {
		res, err := limiter.Allow(ctx, "apq:"+caller(ctx), apqRegistrations)
		return err == nil && res.Allowed
	}}
	if cfg.TrustedDocuments != "" {
		var err error
		if a.trusted, err = trusted.Load(cfg.TrustedDocuments); err != nil {
			return nil, fmt.Errorf("AGORA_TRUSTED_DOCUMENTS: %w", err)
		}
		log.Info("trusted documents only", "manifest", cfg.TrustedDocuments, "operations", a.trusted.Len())
	}
	a.realtime = Realtime{
		Authenticate: func(ctx context.Context, authorization string) (auth.Viewer, error) {
			return auth.Authenticate(ctx, tokens, accounts.Lookup, authorization)
		},
		AllowedOrigins:   cfg.Origins,
		MaxSubscriptions: cfg.MaxSubs,
		Recheck:          cfg.SocketRecheck,
		KeepAlive:        15 * time.Second,
		conns:            newConnections(channels.SocketsPerIP, channels.SocketsPerUser),
		metrics:          m,
	}
	return a, nil
}

// Close ends the subscriptions this process serves.
func (a *App) Close() {
	_ = a.bus.Close()
	if a.guard != nil {
		a.guard.Close()
	}
}

// redisWaits gives every HTTP request a budget for waiting on Redis (AGORA_REDIS_MAX_WAIT, all
// its commands together). A WebSocket, which lives for hours, gets one per operation instead (see
// graphql), and a subscription one per event.
func (a *App) redisWaits(next http.Handler) http.Handler {
	if a.guard == nil {
		return next
	}
	wait := a.cfg.Channels.WithDefaults().RedisMaxWait
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			r = r.WithContext(cache.WithWaitBudget(r.Context(), wait))
		}
		next.ServeHTTP(w, r)
	})
}

// Handler is the whole HTTP surface: GraphQL at /graphql, GraphiQL at / (when enabled), health
// checks, metrics.
func (a *App) Handler() http.Handler {
	c := a.cfg
	// Each operation of a batch passes the statement counter, auth, the rate limit and loaders on
	// its own.
	var gql http.Handler = httpx.Batch(c.BatchMax, a.redisWaits(database.CountStatements(a.metrics.ObserveStatements,
		auth.Middleware(a.tokens, a.Accounts.Lookup, a.budget.middleware(loader.Middleware(a.db.Client, a.cache, a.metrics.LoaderBatch, a.graphql()))))))
	if c.CSRFPrevention {
		gql = httpx.PreventCSRF(gql)
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", httpx.CORS(c.Origins, httpx.LimitBody(c.MaxBodyBytes, gql)))
	if c.GraphiQL {
		mux.Handle("/", graphiQL("/graphql"))
	}
	if c.MetricsAddr == "" {
		mux.Handle("/metrics", a.metrics.Handler())
	}
	httpx.Health(mux, a.db.SQL.PingContext)
	routes := []string{"/graphql", "/metrics", "/healthz", "/readyz", "/"}
	return httpx.WithRequestID(httpx.Trace(a.tracing, httpx.AccessLog(a.log, a.metrics.HTTPObserver(routes), httpx.Compress(c.CompressMinBytes, mux))))
}

// MetricsHandler serves /metrics alone, for AGORA_METRICS_ADDR.
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.metrics.Handler())
	return mux
}

// NewHTTPServer is the HTTP server for handler, with the configured timeouts.
func NewHTTPServer(cfg config.Config, handler http.Handler) *http.Server {
	return &http.Server{
		Addr:              cfg.Addr,
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout, // event streams lift it (see Realtime.streams)
		IdleTimeout:       cfg.IdleTimeout,
	}
}
