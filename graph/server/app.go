// Package server is Agora's GraphQL server: the application built from its configuration, the
// HTTP surface, gqlgen's transports and extensions, directives and the error presenter.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/agora/agora/graph"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/billing"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/httpx"
	"github.com/agora/agora/internal/identity"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/mail"
	"github.com/agora/agora/internal/media"
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

	sseStreams *reservedStreams // graphql-sse's single-connection streams
}

// New builds Agora on db. rdb, when not nil, holds the state replicas share (rate limits,
// persisted queries, cached entities and counts); without it that state is in-process. tracing
// records the spans of requests (HTTP, GraphQL, loaders, SQL, and Redis commands of rdb); nil or a
// no-op provider leaves tracing out. cfg.Auth.JWTSecret signs access tokens.
func New(cfg config.Config, log *slog.Logger, db *database.DB, rdb redis.UniversalClient, tracing trace.TracerProvider) (*App, error) {
	if cfg.Auth.JWTSecret == "" {
		return nil, errors.New("AGORA_JWT_SECRET is empty")
	}
	budgets, channels := cfg.RateLimits, cfg.Channels
	if rdb != nil && telemetry.Tracing(tracing) {
		// Command names only: arguments hold cached rows and tokens.
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tracing),
			redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
			return nil, err
		}
	}
	var previous [][]byte
	for _, k := range cfg.Auth.JWTPreviousSecrets {
		previous = append(previous, []byte(k))
	}
	tokens := auth.NewTokens([]byte(cfg.Auth.JWTSecret), previous, cfg.Auth.TokenIssuer, cfg.Auth.AccessTokenTTL)
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
		// Large budgets (requests) are leased a few events at a time: see ratelimit.Leased.
		limiter = &ratelimit.Fallback{Primary: ratelimit.NewLeased(ratelimit.NewRedis(rdb, "agora:ratelimit:")), Secondary: limiter, Log: log}
		// A Redis that stops answering costs a request at most AGORA_REDIS_MAX_WAIT: the guard
		// then fails its commands at once until Redis answers again, and first sends it the
		// invalidations that failed meanwhile.
		guard = cache.NewGuard(rdb, log, channels.RedisMaxWait)
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
	// The durable queue: effects that must happen are jobs inserted with the write that causes
	// them. Services register their workers as they are built; Open follows.
	var jobTracing trace.TracerProvider // a span per job attempt, linked to the inserting request's
	if telemetry.Tracing(tracing) {
		jobTracing = tracing
	}
	queue := jobs.New(db, jobs.Options{Work: cfg.Jobs.Workers, Concurrency: cfg.Jobs.Concurrency, Timeout: cfg.Jobs.Timeout,
		RescueAfter: cfg.Jobs.RescueAfter, StopGrace: cfg.Jobs.StopGrace, Log: log, Tracing: jobTracing})
	notices := notify.New(db.Client, events, queue, log)
	// Memberships through Stripe: webhook events are jobs of the queue (docs/payments.md).
	payments := billing.New(db.Client, queue, notices, log, billing.Options{
		SecretKey: cfg.Payments.SecretKey, WebhookSecret: cfg.Payments.WebhookSecret, APIBase: cfg.Payments.APIBase,
		ReturnURLAllowed: func(u *url.URL) bool {
			pub, err := url.Parse(cfg.Identity.PublicURL)
			return err == nil && strings.EqualFold(u.Scheme+"://"+u.Host, pub.Scheme+"://"+pub.Host) ||
				httpx.MatchOrigin(cfg.HTTP.AllowedOrigins, u)
		}})
	// Expired and revoked sessions (with their refresh tokens) and old read notifications.
	queue.AddCleanup(db.Client, time.Hour, jobs.Retention{ReadNotifications: cfg.Jobs.NotificationRetention})
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
	m.DBPool(db.PoolStats)
	queue.Observe(m.Jobs(func() ([]telemetry.JobCount, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		counts, err := queue.Counts(ctx)
		out := make([]telemetry.JobCount, len(counts))
		for i, c := range counts {
			out[i] = telemetry.JobCount{Kind: c.Kind, State: c.State, N: c.N}
		}
		return out, err
	}))
	accounts := account.New(db.Client, tokens, cfg.Auth.SessionTTL, account.LoginLimits{
		Limiter: limiter, PerAccount: budgets.LoginPerAccount, PerAccountTotal: channels.LoginPerAccountTotal, PerIP: budgets.LoginPerIP, SignUps: budgets.SignUpsPerIP,
	})
	accounts.SetRefreshGrace(cfg.Auth.RefreshGrace)
	// Mail: one sender (SMTP, or the mail folder in development), each mail a job of the outbox.
	sender, err := mail.New(cfg, log)
	if err != nil {
		return nil, err
	}
	composer, err := mail.NewComposer(cfg.Mail.BaseURL)
	if err != nil {
		return nil, err
	}
	outbox := mail.NewOutbox(queue, sender, log)
	accounts.SetMail(account.Mail{Outbox: outbox, Composer: composer, Queue: queue, VerifyTTL: cfg.Mail.VerifyTTL, PerAddress: budgets.AccountMail,
		RequireConfirmed: cfg.Mail.RequireVerified})
	notices.SetMail(notify.Mail{Outbox: outbox, Composer: composer, Sign: tokens.Derive, DigestEvery: cfg.Jobs.DigestEvery})
	idc := cfg.Identity
	oidcProviders := make([]identity.ProviderConfig, len(idc.OIDC))
	for i, p := range idc.OIDC {
		oidcProviders[i] = identity.ProviderConfig{Name: p.Name, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret}
	}
	identities := identity.New(db.Client, accounts, log, identity.Options{
		PublicURL: idc.PublicURL, RedirectURLs: idc.RedirectURLs, OIDC: oidcProviders,
		GitHub:       identity.GitHubConfig{ClientID: idc.GitHub.ClientID, ClientSecret: idc.GitHub.ClientSecret, WebURL: idc.GitHub.WebURL, APIURL: idc.GitHub.APIURL},
		SecureCookie: cfg.Production(), Limiter: limiter, PerIP: budgets.LoginPerIP, SignUps: budgets.SignUpsPerIP,
		Outbox: outbox, ConfirmURL: cfg.Mail.BaseURL + "/link-identity",
	})
	mc := cfg.Media
	files, err := media.Open(mc.StorageURL, mc.Dir, media.Credentials{AccessKey: mc.AccessKey, SecretKey: mc.SecretKey})
	if err != nil {
		return nil, err
	}
	images := media.New(db.Client, files, limiter, log, media.Options{
		Limits:  media.Limits{MaxBytes: mc.MaxBytes, MaxPixels: mc.MaxPixels},
		PerUser: mc.UploadsPerUser, QuotaBytes: mc.QuotaBytes,
		BaseURL: cfg.Mail.BaseURL, PublicBaseURL: mc.PublicBaseURL,
		SignedTTL: mc.SignedURLTTL, UnattachedTTL: mc.UnattachedTTL, UploadTTL: 15 * time.Minute,
		Sign: tokens.Derive,
	})
	accounts.SetImages(images)
	images.UseJobs(queue) // resized variants made by media_resize jobs
	if mc.SweepInterval > 0 {
		images.AddSweep(queue, mc.SweepInterval) // released and never-attached images
	}
	a := &App{
		Resolver: graph.Resolver{
			Client:   db.Client,
			Accounts: accounts,
			Publish:  publish.New(db.Client, events, notices).SetImages(images),
			Social:   social.New(db.Client, notices),
			Notices:  notices,
			Messages: message.New(db.Client, events, notices, limiter, budgets.MessagesPerUser),
			Live:     events,
			Searcher: search.New(db.Client, db.Dialect, limiter, budgets.SearchesPerCaller, cfg.Limits.SearchRanked),
			Identity: identities,
			Images:   images,
			Queue:    queue,
			Billing:  payments,
		},
		cfg:     cfg,
		log:     log,
		db:      db,
		tokens:  tokens,
		cache:   loaderCache,
		bus:     bus,
		metrics: m,
		tracing: tracing,

		sseStreams: newReservedStreams(),
	}
	a.budget = requestBudget{limiter: limiter, anon: budgets.RequestsPerIP, user: budgets.RequestsPerUser}
	a.guard = guard
	a.apq = persistedQueries{cache: apq, maxBytes: channels.APQMaxBytes, register: func(ctx context.Context) bool {
		res, err := limiter.Allow(ctx, "apq:"+caller(ctx), channels.APQRegister)
		return err == nil && res.Allowed
	}}
	if path := cfg.GraphQL.TrustedDocuments; path != "" {
		var err error
		if a.trusted, err = trusted.Load(path); err != nil {
			return nil, fmt.Errorf("AGORA_TRUSTED_DOCUMENTS: %w", err)
		}
		log.Info("trusted documents only", "manifest", path, "operations", a.trusted.Len())
	}
	a.realtime = Realtime{
		Authenticate: func(ctx context.Context, authorization string) (auth.Viewer, error) {
			return auth.Authenticate(ctx, tokens, accounts.Lookup, authorization)
		},
		AllowedOrigins:   cfg.HTTP.AllowedOrigins,
		MaxSubscriptions: cfg.Realtime.MaxSubscriptions,
		Recheck:          cfg.Realtime.SocketRecheck,
		KeepAlive:        15 * time.Second,
		metrics:          m,
		conns:            newConnections(channels.SocketsPerIP, channels.SocketsPerUser),
	}
	if err := queue.Open(); err != nil {
		return nil, err
	}
	return a, nil
}

// StartJobs starts this process's job workers (when AGORA_JOBS_WORKERS, or in agora worker) and
// periodic jobs. ctx bounds their life: cancelling it cancels running jobs; StopJobs is the
// graceful stop.
func (a *App) StartJobs(ctx context.Context) error { return a.Queue.Start(ctx) }

// StopJobs stops taking jobs and waits for the running ones (AGORA_JOBS_STOP_GRACE, then their
// contexts are cancelled), or until ctx ends: a job still running then is rescued and retried by
// another process after AGORA_JOBS_RESCUE_AFTER.
func (a *App) StopJobs(ctx context.Context) error { return a.Queue.Stop(ctx) }

// Close ends the subscriptions this process serves, and graphql-sse's single-connection streams.
func (a *App) Close() {
	_ = a.bus.Close()
	a.sseStreams.close()
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
	wait := a.cfg.Channels.RedisMaxWait
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			r = r.WithContext(cache.WithWaitBudget(r.Context(), wait))
		}
		next.ServeHTTP(w, r)
	})
}

// Handler is the whole HTTP surface: GraphQL at /graphql, GraphiQL at / with its files under
// /graphiql/ (when enabled), health checks, metrics.
func (a *App) Handler() http.Handler {
	c := a.cfg.HTTP
	// Each operation of a batch passes the statement counter, auth, the rate limit and loaders on
	// its own.
	var gql http.Handler = httpx.Batch(c.MaxBatch, a.redisWaits(database.CountStatements(a.metrics.ObserveStatements,
		auth.Middleware(a.tokens, a.Accounts.Lookup, a.budget.middleware(loader.Middleware(a.db.Client, a.cache, a.metrics.LoaderBatch, a.graphql()))))))
	cookies := a.cfg.Auth.RefreshCookie
	if cookies {
		// The one cookie Agora reads, sent only to /graphql, only by pages of this site, and only
		// with requests CSRF prevention lets through (config refuses the cookie without it).
		gql = auth.RefreshCookies(auth.CookieOptions{Name: RefreshCookieName, Path: "/graphql", Secure: a.cfg.Production()}, gql)
	}
	if c.CSRFPrevention {
		gql = httpx.PreventCSRF(gql)
	}
	mux := http.NewServeMux()
	// Credentials (the cookie) are allowed cross-origin only when there is a cookie to send.
	// Uploads (multipart) stream to gqlgen's multipart transport with a limit of their own;
	// everything else is read into memory up to AGORA_MAX_BODY_BYTES.
	mux.Handle("/graphql", httpx.CORS(c.AllowedOrigins, cookies, limitUploads(a.uploadBodyBytes(), httpx.LimitBody(c.MaxBodyBytes, gql), gql)))
	// One-click unsubscribe from notification mail (RFC 8058), under AGORA_BASE_URL.
	mux.Handle(mail.PathUnsubscribe, serveUnsubscribe(a.Notices, a.log))
	routes := []string{"/graphql", "/metrics", "/healthz", "/readyz", media.Prefix, mail.PathUnsubscribe, "/"}
	if a.Billing.Enabled() {
		// Stripe's deliveries: signed, so no CORS or CSRF guard; the handler bounds the body.
		mux.Handle("POST "+billing.WebhookPath, a.Billing.Handler())
		routes = append(routes, billing.WebhookPath)
	}
	if a.cfg.Identity.Enabled() {
		// The browser's steps of a sign-in through a provider (internal/identity); auth.Middleware
		// gives them the client's address and user agent, which budgets and sessions use.
		signIn := auth.Middleware(a.tokens, a.Accounts.Lookup, a.Identity.Handler())
		mux.Handle("GET /auth/start/", signIn)
		mux.Handle("GET /auth/callback/", signIn)
	}
	if g := a.cfg.GraphQL; g.GraphiQL {
		page, assets, files := graphiQL("/graphql", g.Introspection)
		mux.Handle("/", page)
		mux.Handle(graphiqlPrefix, assets)
		routes = append(routes, files...)
	}
	if c.MetricsAddr == "" {
		mux.Handle("/metrics", a.metrics.Handler())
	}
	httpx.Health(mux, a.db.SQL.PingContext)
	// Image files are compressed already: they skip gzip.
	top := http.NewServeMux()
	top.Handle(media.Prefix, serveMedia(a.Images, a.cfg.Media.SharedMaxAge, a.log))
	top.Handle("/", httpx.Compress(c.CompressMinBytes, mux))
	return httpx.WithRequestID(httpx.Proxied(c.TrustedProxies, c.ProxyHeader,
		httpx.Trace(a.tracing, httpx.AccessLog(a.log, a.metrics.HTTPObserver(routes), top))))
}

// RefreshCookieName is the cookie that holds the refresh token in cookie mode (AGORA_REFRESH_COOKIE).
const RefreshCookieName = "agora_refresh"

// MetricsHandler serves /metrics, and Go's profiles under /debug/pprof/, for AGORA_METRICS_ADDR:
// an operator's address, never the public one (profiles cost CPU and show the program's insides).
// The heap and allocs profiles say how to turn them on while allocations are not sampled
// (AGORA_HEAP_PROFILE), rather than answer an empty profile.
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.metrics.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	if !a.cfg.HTTP.HeapProfile {
		off := func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "allocations are not sampled: start Agora with AGORA_HEAP_PROFILE=true for the heap and allocs profiles", http.StatusNotFound)
		}
		mux.HandleFunc("/debug/pprof/heap", off)
		mux.HandleFunc("/debug/pprof/allocs", off)
	}
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// NewHTTPServer is the HTTP server for handler, with the configured timeouts.
func NewHTTPServer(cfg config.HTTP, handler http.Handler) *http.Server {
	return &http.Server{
		Addr:              cfg.Addr,
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout, // event streams lift it (see Realtime.streams)
		IdleTimeout:       cfg.IdleTimeout,
	}
}
