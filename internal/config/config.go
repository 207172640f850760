// Package config reads Agora's settings from the environment (and an optional .env file).
package config

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is every setting Agora reads, typed and grouped by what it configures. Defaults gives
// the value of each setting no variable sets: a development server on an embedded SQLite file.
type Config struct {
	Env      string // AGORA_ENV: development (default) or production
	LogLevel string // AGORA_LOG_LEVEL: debug, info (default), warn, error

	HTTP       HTTP
	Database   Database
	Redis      Redis
	Auth       Auth
	RateLimits RateLimits
	Limits     Limits
	GraphQL    GraphQL
	Realtime   Realtime
	Mail       Mail
	Jobs       Jobs
	Identity   Identity // sign-in through OpenID Connect providers and GitHub (identity.go)
	Channels   Channels // budgets and caps of sockets, subscriptions, persisted queries and Redis waits (channels.go)
	Media      Media    // image storage and limits (media.go)
	Payments   Payments // memberships through Stripe (payments.go)
}

// HTTP is the server: addresses, timeouts, and what it accepts from browsers and clients.
type HTTP struct {
	Addr              string        // PORT → ":PORT" (default 8080)
	MetricsAddr       string        // AGORA_METRICS_ADDR: serve /metrics on this address (e.g. :9090) instead of the public port (default: the public port)
	HeapProfile       bool          // AGORA_HEAP_PROFILE: sample allocations for the heap and allocs profiles on AGORA_METRICS_ADDR (default false: the samples' stacks cost about 2 MiB resident)
	AllowedOrigins    []string      // AGORA_ALLOWED_ORIGINS: comma-separated origin patterns (host:port or scheme://host:port) of other sites' pages that may call the API and open sockets (default: localhost:* and 127.0.0.1:* in development, none in production)
	ReadHeaderTimeout time.Duration // AGORA_READ_HEADER_TIMEOUT (default 10s)
	ReadTimeout       time.Duration // AGORA_READ_TIMEOUT (default 30s)
	WriteTimeout      time.Duration // AGORA_WRITE_TIMEOUT (default 60s; event streams are exempt)
	IdleTimeout       time.Duration // AGORA_IDLE_TIMEOUT (default 120s)
	ShutdownGrace     time.Duration // AGORA_SHUTDOWN_GRACE: how long in-flight requests may finish after SIGTERM (default 15s)
	MaxBodyBytes      int64         // AGORA_MAX_BODY_BYTES: request body limit (default 1 MiB)
	MaxBatch          int           // AGORA_BATCH_MAX: operations one POST may batch in a JSON array (default 0: batching off)
	CompressMinBytes  int           // AGORA_COMPRESS_MIN_BYTES: gzip responses from this size on (default 1024; 0 = never)
	CSRFPrevention    bool          // AGORA_CSRF_PREVENTION: refuse requests a browser sends without a preflight (default true)
	PublicMaxAge      time.Duration // AGORA_PUBLIC_MAX_AGE: how long shared caches (CDNs) may keep anonymous GET answers (default 0: not at all)

	// Behind proxies: whose word on the client's address is taken.
	TrustedProxies []netip.Prefix // AGORA_TRUSTED_PROXIES: comma-separated CIDRs (or addresses) of the proxies in front of Agora whose ProxyHeader is believed (default none: the peer is the client)
	ProxyHeader    string         // AGORA_PROXY_HEADER: the header trusted proxies write the client's address in: X-Forwarded-For (default) or Forwarded
}

// Database is where Agora keeps its data.
type Database struct {
	URL              string        // DATABASE_URL: postgres://… ; empty → embedded SQLite
	SQLitePath       string        // AGORA_SQLITE_PATH (default agora.db)
	MaxConnections   int           // AGORA_DB_MAX_CONNS: PostgreSQL pool size (default 20)
	StatementTimeout time.Duration // AGORA_STATEMENT_TIMEOUT: PostgreSQL statement_timeout of the pool's connections (default 30s; 0 = none)
	AutoMigrate      bool          // AGORA_AUTO_MIGRATE: apply pending migrations at start-up (default true)
}

// Redis is the state replicas share.
type Redis struct {
	URL string // REDIS_URL: redis://… shares state across replicas; empty → in-process
}

// Auth is how access tokens are signed and how long they and sessions live.
type Auth struct {
	JWTSecret          string        // AGORA_JWT_SECRET: at least 32 bytes; generated in development when empty
	JWTPreviousSecrets []string      // AGORA_JWT_PREVIOUS_SECRETS: comma-separated keys that still verify (rotation)
	TokenIssuer        string        // AGORA_TOKEN_ISSUER (default agora)
	AccessTokenTTL     time.Duration // AGORA_ACCESS_TOKEN_TTL (default 15m)
	SessionTTL         time.Duration // AGORA_SESSION_TTL: a session ends unless refreshed within it (default 720h)
	RefreshCookie      bool          // AGORA_REFRESH_COOKIE: the refresh token travels in an HttpOnly cookie instead of the response body (default false)
	RefreshGrace       time.Duration // AGORA_REFRESH_GRACE: a refresh token presented again this soon after its rotation gets the same new tokens instead of ending the session (default 10s; 0 = never)
}

// RateLimits are the budgets of callers, each written N/duration in its variable.
type RateLimits struct {
	LoginPerAccount   Budget // AGORA_LOGIN_LIMIT_ACCOUNT: sign-in attempts per account (default 10/15m)
	LoginPerIP        Budget // AGORA_LOGIN_LIMIT_IP: sign-in attempts per client address (default 30/5m)
	RequestsPerIP     Budget // AGORA_RATE_LIMIT_IP: requests per client address of anonymous callers (default 600/1m)
	RequestsPerUser   Budget // AGORA_RATE_LIMIT_USER: requests per signed-in user (default 1200/1m)
	SignUpsPerIP      Budget // AGORA_RATE_LIMIT_REGISTER: sign-ups per client address (default 10/1h)
	MessagesPerUser   Budget // AGORA_RATE_LIMIT_MESSAGE: messages sent per user (default 30/1m)
	SearchesPerCaller Budget // AGORA_RATE_LIMIT_SEARCH: post searches per user or anonymous client address (default 60/1m)
	AccountMail       Budget // AGORA_RATE_LIMIT_ACCOUNT_MAIL: confirmation and password reset mails per address, and reset requests per client address (default 5/1h)
}

// Limits bound what one GraphQL operation may ask for.
type Limits struct {
	Depth      int // AGORA_MAX_DEPTH: field nesting per operation (default 12)
	Aliases    int // AGORA_MAX_ALIASES: aliased fields per operation (default 30)
	RootFields int // AGORA_MAX_ROOT_FIELDS: top-level fields per operation (default 20)
	Tokens     int // AGORA_MAX_TOKENS: tokens per document (default 15000)
	Cost       int // AGORA_MAX_COST: connection-aware cost per operation (default 25000)
	// AGORA_SEARCH_MAX_RANKED: the most matches a post search ranks, the newest (default 500):
	// its cost is bounded by this, however many posts match.
	SearchRanked int
}

// GraphQL is what the GraphQL endpoint exposes and runs. Exposure of the schema (introspection,
// suggestions, GraphiQL) is on in development, off in production unless set.
type GraphQL struct {
	Introspection    bool          // AGORA_INTROSPECTION: __schema and __type queries
	FieldSuggestions bool          // AGORA_FIELD_SUGGESTIONS: "Did you mean …?" in validation errors
	GraphiQL         bool          // AGORA_GRAPHIQL: the GraphiQL page at /
	TrustedDocuments string        // AGORA_TRUSTED_DOCUMENTS: path of a persisted-operation manifest; when set, only its operations run
	OperationTimeout time.Duration // AGORA_OPERATION_TIMEOUT: deadline of one query or mutation (default 15s; 0 = none)
	// AGORA_FEDERATION_AUTH_DIRECTIVES: how the subgraph SDL (_service) carries @authenticated,
	// @requiresScopes and @policy — AuthDirectivesFederation (default) or AuthDirectivesOmit.
	FederationAuthDirectives string
}

// The forms of the authorization directives in the subgraph SDL. Agora enforces them itself
// either way.
const (
	// AuthDirectivesFederation imports them from federation and applies them: Apollo Router, Hive
	// Gateway and Cosmo Router compose them into the supergraph and may enforce them too.
	AuthDirectivesFederation = "federation"
	// AuthDirectivesOmit leaves them out, so that the supergraph links no feature "for: SECURITY":
	// Apollo Gateway refuses to serve one it cannot enforce.
	AuthDirectivesOmit = "omit"
)

// Realtime is subscriptions over WebSocket and event streams.
type Realtime struct {
	MaxSubscriptions int           // AGORA_MAX_SUBSCRIPTIONS: subscriptions per connection (default 20)
	SocketRecheck    time.Duration // AGORA_SOCKET_RECHECK: how often an open socket's token and session are checked again (default 30s)
}

// Mail is how Agora sends mail, and the address its links point to.
type Mail struct {
	SMTPURL string // SMTP_URL: smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465 (implicit TLS); empty → mail is written to Dir
	From    string // MAIL_FROM: the From of every mail (default Agora <no-reply@localhost>)
	Dir     string // AGORA_MAIL_DIR: where mail is written when SMTP_URL is unset (default mail, beside agora.db)
	BaseURL string // AGORA_BASE_URL: the app's public address, for links in mail (default http://localhost:8080; no trailing slash)
	// AGORA_EMAIL_VERIFY_TTL: how long the link confirming an address works (default 48h).
	VerifyTTL time.Duration
	// AGORA_REQUIRE_VERIFIED_EMAIL: accounts may not write until their address is confirmed
	// (default false).
	RequireVerified bool
}

// Jobs is the durable job queue: where its workers run and how they pace themselves.
type Jobs struct {
	Workers     bool          // AGORA_JOBS_WORKERS: agora serve runs job workers too (default true; false leaves them to agora worker)
	Concurrency int           // AGORA_JOBS_CONCURRENCY: jobs one process runs at once (default 10)
	Timeout     time.Duration // AGORA_JOBS_TIMEOUT: how long one attempt of a job may run (default 1m)
	RescueAfter time.Duration // AGORA_JOBS_RESCUE_AFTER: a job running this long is taken for lost (its process died) and retried (default 10m; more than AGORA_JOBS_TIMEOUT)
	StopGrace   time.Duration // AGORA_JOBS_STOP_GRACE: how long running jobs may finish after SIGTERM before they are cancelled (default 10s)
	// AGORA_NOTIFICATION_RETENTION: read notifications older than this are deleted by the hourly
	// clean-up (default 2160h, 90 days; 0 keeps them)
	NotificationRetention time.Duration
	// AGORA_NOTIFICATION_DIGEST_INTERVAL: how often the digest job mails the daily digests of the
	// users whose UTC day has ended (default 1h; 0 turns the digest off)
	DigestEvery time.Duration
}

// Defaults is the configuration when no variable is set: development mode. It is the one place
// each default is written; Load starts from it, and so may tests.
func Defaults() Config {
	return Config{
		Env:      "development",
		LogLevel: "info",
		HTTP: HTTP{
			Addr:              ":8080",
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownGrace:     15 * time.Second,
			MaxBodyBytes:      1 << 20,
			CompressMinBytes:  1024,
			CSRFPrevention:    true,
			// Development pages (Vite, webpack, Next.js dev servers…) on any local port.
			AllowedOrigins: []string{"localhost:*", "127.0.0.1:*"},
			ProxyHeader:    "X-Forwarded-For",
		},
		Database: Database{SQLitePath: "agora.db", MaxConnections: 20, StatementTimeout: 30 * time.Second, AutoMigrate: true},
		Auth:     Auth{TokenIssuer: "agora", AccessTokenTTL: 15 * time.Minute, SessionTTL: 30 * 24 * time.Hour, RefreshGrace: 10 * time.Second},
		RateLimits: RateLimits{
			LoginPerAccount:   Budget{10, 15 * time.Minute},
			LoginPerIP:        Budget{30, 5 * time.Minute},
			RequestsPerIP:     Budget{600, time.Minute},
			RequestsPerUser:   Budget{1200, time.Minute},
			SignUpsPerIP:      Budget{10, time.Hour},
			MessagesPerUser:   Budget{30, time.Minute},
			SearchesPerCaller: Budget{60, time.Minute},
			AccountMail:       Budget{5, time.Hour},
		},
		// Generous for Agora's own pages (the feed page costs under 1,000); documents built to
		// exhaust the server are refused.
		Limits: Limits{Depth: 12, Aliases: 30, RootFields: 20, Tokens: 15_000, Cost: 25_000, SearchRanked: 500},
		GraphQL: GraphQL{Introspection: true, FieldSuggestions: true, GraphiQL: true, OperationTimeout: 15 * time.Second,
			FederationAuthDirectives: AuthDirectivesFederation},
		Realtime: Realtime{MaxSubscriptions: 20, SocketRecheck: 30 * time.Second},
		Mail:     Mail{From: "Agora <no-reply@localhost>", Dir: "mail", BaseURL: "http://localhost:8080", VerifyTTL: 48 * time.Hour},
		Jobs: Jobs{Workers: true, Concurrency: 10, Timeout: time.Minute, RescueAfter: 10 * time.Minute, StopGrace: 10 * time.Second,
			NotificationRetention: 90 * 24 * time.Hour, DigestEvery: time.Hour},
		Identity: Identity{PublicURL: "http://localhost:8080", GitHub: GitHub{WebURL: "https://github.com", APIURL: "https://api.github.com"}},
		Channels: Channels{
			SocketsPerIP: 50, SocketsPerUser: 10, TopicSubscribers: 2000,
			APQMaxBytes: 64 << 10, APQCacheBytes: 16 << 20, APQTTL: 24 * time.Hour, APQRegister: Budget{100, time.Hour},
			LoginPerAccountTotal: Budget{100, time.Hour}, RedisMaxWait: 500 * time.Millisecond,
		},
		Media: Media{
			Dir: "media", MaxBytes: 10 << 20, MaxPixels: 25_000_000, UploadsPerUser: Budget{30, time.Hour}, QuotaBytes: 500 << 20,
			SignedURLTTL: time.Hour, UnattachedTTL: 24 * time.Hour, SweepInterval: 10 * time.Minute, SharedMaxAge: 10 * time.Minute,
		},
		Payments: Payments{APIBase: "https://api.stripe.com"},
	}
}

// Production reports whether Agora runs in production mode.
func (c Config) Production() bool { return c.Env == "production" }

// Load reads the configuration from the environment. Variables already set win over a .env file in
// the working directory, which may be missing.
func Load() (Config, error) {
	if err := loadDotEnv(".env"); err != nil {
		return Config{}, err
	}
	return load()
}

// LoadFile is Load with the variables file at path, which must exist.
func LoadFile(path string) (Config, error) {
	if _, err := os.Stat(path); err != nil {
		return Config{}, err
	}
	if err := loadDotEnv(path); err != nil {
		return Config{}, err
	}
	return load()
}

func load() (Config, error) {
	var errs []error
	d := Defaults()
	c := Config{
		Env:      get("AGORA_ENV", d.Env),
		LogLevel: get("AGORA_LOG_LEVEL", d.LogLevel),
		HTTP: HTTP{
			Addr:              ":" + get("PORT", strings.TrimPrefix(d.HTTP.Addr, ":")),
			MetricsAddr:       os.Getenv("AGORA_METRICS_ADDR"),
			HeapProfile:       parse(&errs, "AGORA_HEAP_PROFILE", d.HTTP.HeapProfile, strconv.ParseBool),
			TrustedProxies:    parse(&errs, "AGORA_TRUSTED_PROXIES", d.HTTP.TrustedProxies, parsePrefixes),
			ProxyHeader:       textproto.CanonicalMIMEHeaderKey(get("AGORA_PROXY_HEADER", d.HTTP.ProxyHeader)),
			ReadHeaderTimeout: parse(&errs, "AGORA_READ_HEADER_TIMEOUT", d.HTTP.ReadHeaderTimeout, time.ParseDuration),
			ReadTimeout:       parse(&errs, "AGORA_READ_TIMEOUT", d.HTTP.ReadTimeout, time.ParseDuration),
			WriteTimeout:      parse(&errs, "AGORA_WRITE_TIMEOUT", d.HTTP.WriteTimeout, time.ParseDuration),
			IdleTimeout:       parse(&errs, "AGORA_IDLE_TIMEOUT", d.HTTP.IdleTimeout, time.ParseDuration),
			ShutdownGrace:     parse(&errs, "AGORA_SHUTDOWN_GRACE", d.HTTP.ShutdownGrace, time.ParseDuration),
			MaxBodyBytes:      parse(&errs, "AGORA_MAX_BODY_BYTES", d.HTTP.MaxBodyBytes, parseInt64),
			MaxBatch:          parse(&errs, "AGORA_BATCH_MAX", d.HTTP.MaxBatch, strconv.Atoi),
			CompressMinBytes:  parse(&errs, "AGORA_COMPRESS_MIN_BYTES", d.HTTP.CompressMinBytes, strconv.Atoi),
			CSRFPrevention:    parse(&errs, "AGORA_CSRF_PREVENTION", d.HTTP.CSRFPrevention, strconv.ParseBool),
			PublicMaxAge:      parse(&errs, "AGORA_PUBLIC_MAX_AGE", d.HTTP.PublicMaxAge, time.ParseDuration),
		},
		Database: Database{
			URL:              os.Getenv("DATABASE_URL"),
			SQLitePath:       get("AGORA_SQLITE_PATH", d.Database.SQLitePath),
			MaxConnections:   parse(&errs, "AGORA_DB_MAX_CONNS", d.Database.MaxConnections, strconv.Atoi),
			StatementTimeout: parse(&errs, "AGORA_STATEMENT_TIMEOUT", d.Database.StatementTimeout, time.ParseDuration),
			AutoMigrate:      parse(&errs, "AGORA_AUTO_MIGRATE", d.Database.AutoMigrate, strconv.ParseBool),
		},
		Redis: Redis{URL: os.Getenv("REDIS_URL")},
		Auth: Auth{
			JWTSecret:          os.Getenv("AGORA_JWT_SECRET"),
			JWTPreviousSecrets: list(os.Getenv("AGORA_JWT_PREVIOUS_SECRETS")),
			TokenIssuer:        get("AGORA_TOKEN_ISSUER", d.Auth.TokenIssuer),
			AccessTokenTTL:     parse(&errs, "AGORA_ACCESS_TOKEN_TTL", d.Auth.AccessTokenTTL, time.ParseDuration),
			SessionTTL:         parse(&errs, "AGORA_SESSION_TTL", d.Auth.SessionTTL, time.ParseDuration),
			RefreshCookie:      parse(&errs, "AGORA_REFRESH_COOKIE", d.Auth.RefreshCookie, strconv.ParseBool),
			RefreshGrace:       parse(&errs, "AGORA_REFRESH_GRACE", d.Auth.RefreshGrace, time.ParseDuration),
		},
		RateLimits: RateLimits{
			LoginPerAccount:   parse(&errs, "AGORA_LOGIN_LIMIT_ACCOUNT", d.RateLimits.LoginPerAccount, ParseBudget),
			LoginPerIP:        parse(&errs, "AGORA_LOGIN_LIMIT_IP", d.RateLimits.LoginPerIP, ParseBudget),
			RequestsPerIP:     parse(&errs, "AGORA_RATE_LIMIT_IP", d.RateLimits.RequestsPerIP, ParseBudget),
			RequestsPerUser:   parse(&errs, "AGORA_RATE_LIMIT_USER", d.RateLimits.RequestsPerUser, ParseBudget),
			SignUpsPerIP:      parse(&errs, "AGORA_RATE_LIMIT_REGISTER", d.RateLimits.SignUpsPerIP, ParseBudget),
			MessagesPerUser:   parse(&errs, "AGORA_RATE_LIMIT_MESSAGE", d.RateLimits.MessagesPerUser, ParseBudget),
			SearchesPerCaller: parse(&errs, "AGORA_RATE_LIMIT_SEARCH", d.RateLimits.SearchesPerCaller, ParseBudget),
			AccountMail:       parse(&errs, "AGORA_RATE_LIMIT_ACCOUNT_MAIL", d.RateLimits.AccountMail, ParseBudget),
		},
		Limits: Limits{
			Depth:        parse(&errs, "AGORA_MAX_DEPTH", d.Limits.Depth, strconv.Atoi),
			Aliases:      parse(&errs, "AGORA_MAX_ALIASES", d.Limits.Aliases, strconv.Atoi),
			RootFields:   parse(&errs, "AGORA_MAX_ROOT_FIELDS", d.Limits.RootFields, strconv.Atoi),
			Tokens:       parse(&errs, "AGORA_MAX_TOKENS", d.Limits.Tokens, strconv.Atoi),
			Cost:         parse(&errs, "AGORA_MAX_COST", d.Limits.Cost, strconv.Atoi),
			SearchRanked: parse(&errs, "AGORA_SEARCH_MAX_RANKED", d.Limits.SearchRanked, strconv.Atoi),
		},
		GraphQL: GraphQL{
			TrustedDocuments:         os.Getenv("AGORA_TRUSTED_DOCUMENTS"),
			OperationTimeout:         parse(&errs, "AGORA_OPERATION_TIMEOUT", d.GraphQL.OperationTimeout, time.ParseDuration),
			FederationAuthDirectives: get("AGORA_FEDERATION_AUTH_DIRECTIVES", d.GraphQL.FederationAuthDirectives),
		},
		Realtime: Realtime{
			MaxSubscriptions: parse(&errs, "AGORA_MAX_SUBSCRIPTIONS", d.Realtime.MaxSubscriptions, strconv.Atoi),
			SocketRecheck:    parse(&errs, "AGORA_SOCKET_RECHECK", d.Realtime.SocketRecheck, time.ParseDuration),
		},
		Mail: Mail{
			SMTPURL:         os.Getenv("SMTP_URL"),
			From:            get("MAIL_FROM", d.Mail.From),
			Dir:             get("AGORA_MAIL_DIR", d.Mail.Dir),
			BaseURL:         strings.TrimRight(get("AGORA_BASE_URL", d.Mail.BaseURL), "/"),
			VerifyTTL:       parse(&errs, "AGORA_EMAIL_VERIFY_TTL", d.Mail.VerifyTTL, time.ParseDuration),
			RequireVerified: parse(&errs, "AGORA_REQUIRE_VERIFIED_EMAIL", d.Mail.RequireVerified, strconv.ParseBool),
		},
		Jobs: Jobs{
			Workers:               parse(&errs, "AGORA_JOBS_WORKERS", d.Jobs.Workers, strconv.ParseBool),
			Concurrency:           parse(&errs, "AGORA_JOBS_CONCURRENCY", d.Jobs.Concurrency, strconv.Atoi),
			Timeout:               parse(&errs, "AGORA_JOBS_TIMEOUT", d.Jobs.Timeout, time.ParseDuration),
			RescueAfter:           parse(&errs, "AGORA_JOBS_RESCUE_AFTER", d.Jobs.RescueAfter, time.ParseDuration),
			StopGrace:             parse(&errs, "AGORA_JOBS_STOP_GRACE", d.Jobs.StopGrace, time.ParseDuration),
			NotificationRetention: parse(&errs, "AGORA_NOTIFICATION_RETENTION", d.Jobs.NotificationRetention, time.ParseDuration),
			DigestEvery:           parse(&errs, "AGORA_NOTIFICATION_DIGEST_INTERVAL", d.Jobs.DigestEvery, time.ParseDuration),
		},
	}
	// The schema is exposed, and local pages may call the API, by default in development only
	// (Defaults is development).
	var channelErrs []error
	c.Channels, channelErrs = loadChannels(d.Channels)
	errs = append(errs, channelErrs...)
	var identityErrs []error
	c.Identity, identityErrs = loadIdentity(d.Identity)
	errs = append(errs, identityErrs...)
	var mediaErrs []error
	c.Media, mediaErrs = loadMedia(d.Media)
	errs = append(errs, mediaErrs...)
	var paymentErrs []error
	c.Payments, paymentErrs = loadPayments(d.Payments)
	errs = append(errs, paymentErrs...)
	development := c.Env != "production"
	var origins []string
	if development {
		origins = d.HTTP.AllowedOrigins
	}
	c.HTTP.AllowedOrigins = parse(&errs, "AGORA_ALLOWED_ORIGINS", origins, func(s string) ([]string, error) { return list(s), nil })
	c.GraphQL.Introspection = parse(&errs, "AGORA_INTROSPECTION", d.GraphQL.Introspection && development, strconv.ParseBool)
	c.GraphQL.FieldSuggestions = parse(&errs, "AGORA_FIELD_SUGGESTIONS", d.GraphQL.FieldSuggestions && development, strconv.ParseBool)
	c.GraphQL.GraphiQL = parse(&errs, "AGORA_GRAPHIQL", d.GraphQL.GraphiQL && development, strconv.ParseBool)
	return c, errors.Join(append(errs, c.validate()...)...)
}

// validate lists the settings out of their range, each error naming its variable.
func (c Config) validate() []error {
	var errs []error
	if c.Env != "development" && c.Env != "production" {
		errs = append(errs, fmt.Errorf("AGORA_ENV: want development or production, got %q", c.Env))
	}
	if u := c.Database.URL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		errs = append(errs, errors.New("DATABASE_URL: want a postgres:// URL"))
	}
	if u := c.Redis.URL; u != "" && !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") {
		errs = append(errs, errors.New("REDIS_URL: want a redis:// or rediss:// URL"))
	}
	if c.Auth.JWTSecret != "" && len(c.Auth.JWTSecret) < 32 {
		errs = append(errs, errors.New("AGORA_JWT_SECRET: want at least 32 bytes"))
	}
	if c.Auth.SessionTTL <= 0 {
		errs = append(errs, errors.New("AGORA_SESSION_TTL: want a positive duration"))
	}
	if c.Auth.AccessTokenTTL <= 0 {
		errs = append(errs, errors.New("AGORA_ACCESS_TOKEN_TTL: want a positive duration"))
	}
	if port, err := strconv.Atoi(strings.TrimPrefix(c.HTTP.Addr, ":")); err != nil || port < 1 || port > 65535 {
		errs = append(errs, fmt.Errorf("PORT: want a port number from 1 to 65535, got %q", strings.TrimPrefix(c.HTTP.Addr, ":")))
	}
	if a := c.HTTP.MetricsAddr; a != "" {
		_, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("AGORA_METRICS_ADDR: want an address such as :9090 or 127.0.0.1:9090, got %q", a))
		}
	}
	if h := c.HTTP.ProxyHeader; h != "X-Forwarded-For" && h != "Forwarded" {
		errs = append(errs, fmt.Errorf("AGORA_PROXY_HEADER: want X-Forwarded-For or Forwarded, got %q", h))
	}
	if c.Auth.RefreshGrace < 0 || c.Auth.RefreshGrace > time.Minute {
		errs = append(errs, errors.New("AGORA_REFRESH_GRACE: want a duration from 0s to 1m, such as 10s (a replayed refresh token is taken as the same client's retry that long)"))
	}
	if c.Auth.RefreshCookie && !c.HTTP.CSRFPrevention {
		errs = append(errs, errors.New("AGORA_REFRESH_COOKIE=true needs AGORA_CSRF_PREVENTION=true: a page of any site could otherwise send the cookie with a simple request"))
	}
	errs = append(errs, c.Identity.validate(c.Production())...)
	if c.Database.MaxConnections < 2 { // migrations hold one connection for their lock and write on another
		errs = append(errs, errors.New("AGORA_DB_MAX_CONNS: want at least 2"))
	}
	for name, v := range map[string]int{"AGORA_MAX_DEPTH": c.Limits.Depth, "AGORA_MAX_ALIASES": c.Limits.Aliases,
		"AGORA_MAX_ROOT_FIELDS": c.Limits.RootFields, "AGORA_MAX_TOKENS": c.Limits.Tokens, "AGORA_MAX_COST": c.Limits.Cost,
		"AGORA_SEARCH_MAX_RANKED": c.Limits.SearchRanked} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s: want at least 1", name))
		}
	}
	if d := c.GraphQL.FederationAuthDirectives; d != AuthDirectivesFederation && d != AuthDirectivesOmit {
		errs = append(errs, fmt.Errorf("AGORA_FEDERATION_AUTH_DIRECTIVES: want %s (routers may enforce them: Apollo Router, Hive Gateway) or %s (Apollo Gateway), got %q",
			AuthDirectivesFederation, AuthDirectivesOmit, d))
	}
	if c.Realtime.MaxSubscriptions < 1 {
		errs = append(errs, errors.New("AGORA_MAX_SUBSCRIPTIONS: want at least 1"))
	}
	if c.Realtime.SocketRecheck <= 0 {
		errs = append(errs, errors.New("AGORA_SOCKET_RECHECK: want a positive duration"))
	}
	if c.HTTP.ShutdownGrace <= 0 {
		errs = append(errs, errors.New("AGORA_SHUTDOWN_GRACE: want a positive duration"))
	}
	if c.HTTP.MaxBodyBytes < 1 {
		errs = append(errs, errors.New("AGORA_MAX_BODY_BYTES: want at least 1"))
	}
	for name, d := range map[string]time.Duration{"AGORA_READ_HEADER_TIMEOUT": c.HTTP.ReadHeaderTimeout,
		"AGORA_READ_TIMEOUT": c.HTTP.ReadTimeout, "AGORA_WRITE_TIMEOUT": c.HTTP.WriteTimeout, "AGORA_IDLE_TIMEOUT": c.HTTP.IdleTimeout,
		"AGORA_OPERATION_TIMEOUT": c.GraphQL.OperationTimeout, "AGORA_STATEMENT_TIMEOUT": c.Database.StatementTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: want a duration of 0 or more", name))
		}
	}
	if c.HTTP.MaxBatch < 0 || c.HTTP.CompressMinBytes < 0 {
		errs = append(errs, errors.New("AGORA_BATCH_MAX, AGORA_COMPRESS_MIN_BYTES: want 0 or more"))
	}
	if c.HTTP.PublicMaxAge < 0 {
		errs = append(errs, errors.New("AGORA_PUBLIC_MAX_AGE: want a duration of 0 or more"))
	}
	if c.HTTP.MetricsAddr != "" && c.HTTP.MetricsAddr == c.HTTP.Addr {
		errs = append(errs, errors.New("AGORA_METRICS_ADDR: must differ from PORT (leave it empty to serve /metrics on the public port)"))
	}
	if c.Mail.SMTPURL != "" {
		if _, err := ParseSMTPURL(c.Mail.SMTPURL); err != nil {
			errs = append(errs, err)
		}
	}
	if from, err := mail.ParseAddress(c.Mail.From); err != nil || from.Address == "" {
		errs = append(errs, fmt.Errorf("MAIL_FROM: want one address, e.g. Agora <no-reply@example.com>, got %q", c.Mail.From))
	}
	if u, err := url.Parse(c.Mail.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("AGORA_BASE_URL: want an http:// or https:// address without query, e.g. https://agora.example.com, got %q", c.Mail.BaseURL))
	}
	if c.Jobs.Concurrency < 1 {
		errs = append(errs, errors.New("AGORA_JOBS_CONCURRENCY: want at least 1"))
	}
	if c.Mail.VerifyTTL <= 0 {
		errs = append(errs, errors.New("AGORA_EMAIL_VERIFY_TTL: want a positive duration"))
	}
	if c.Jobs.Timeout <= 0 || c.Jobs.StopGrace <= 0 {
		errs = append(errs, errors.New("AGORA_JOBS_TIMEOUT, AGORA_JOBS_STOP_GRACE: want a positive duration"))
	}
	if c.Jobs.DigestEvery < 0 {
		errs = append(errs, errors.New("AGORA_NOTIFICATION_DIGEST_INTERVAL: want a duration, 0 for no digest"))
	}
	if c.Jobs.NotificationRetention < 0 {
		errs = append(errs, errors.New("AGORA_NOTIFICATION_RETENTION: want a duration of 0 (keep) or more"))
	}
	if c.Jobs.RescueAfter <= c.Jobs.Timeout {
		errs = append(errs, fmt.Errorf("AGORA_JOBS_RESCUE_AFTER: want more than AGORA_JOBS_TIMEOUT (%s): a job still running within its timeout is not lost", c.Jobs.Timeout))
	}
	if c.Production() {
		errs = append(errs, c.insecure()...)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("AGORA_LOG_LEVEL: want debug, info, warn or error, got %q", c.LogLevel))
	}
	return errs
}

// insecure lists what production refuses. GraphiQL, introspection and field suggestions are off
// in production unless set: setting one to true there is the operator's explicit opt-in (and
// is logged as a warning at start), not a refusal.
func (c Config) insecure() []error {
	var errs []error
	if c.Auth.JWTSecret == "" {
		errs = append(errs, errors.New("AGORA_JWT_SECRET: required in production (at least 32 bytes, e.g. `openssl rand -hex 32`)"))
	}
	for _, k := range c.Auth.JWTPreviousSecrets {
		if len(k) < 32 {
			errs = append(errs, errors.New("AGORA_JWT_PREVIOUS_SECRETS: each key must be at least 32 bytes in production"))
			break
		}
	}
	if !c.HTTP.CSRFPrevention {
		errs = append(errs, errors.New("AGORA_CSRF_PREVENTION=false is refused in production: any site's page could send simple requests to the API"))
	}
	for _, o := range c.HTTP.AllowedOrigins {
		if every, _ := path.Match(o, "any-site.invalid"); every {
			errs = append(errs, fmt.Errorf("AGORA_ALLOWED_ORIGINS: %q matches every site, refused in production: name the sites whose pages may call the API", o))
		}
	}
	if c.Mail.SMTPURL != "" {
		if s, err := ParseSMTPURL(c.Mail.SMTPURL); err == nil && !s.Implicit && s.TLS != TLSMandatory && !loopback(s.Host) {
			errs = append(errs, fmt.Errorf("SMTP_URL: tls=%s to %s is refused in production: mail and SMTP passwords would cross the network in clear (use STARTTLS, smtps://, or a relay on localhost)", s.TLS, s.Host))
		}
	}
	return errs
}

// Warnings are what Agora warns about at start: settings it accepts that are probably not what the
// operator wants — origin patterns that no page's origin can ever match, and in production an
// embedded SQLite database and /metrics on the public port, or heap sampling that nothing serves.
func (c Config) Warnings() []string {
	warnings := OriginPatternProblems(c.HTTP.AllowedOrigins)
	if c.Production() && c.Database.URL == "" {
		warnings = append(warnings, fmt.Sprintf("production on the embedded SQLite file %s (DATABASE_URL is not set): "+
			"one process on one machine, and its data is lost with the container unless %s is on a volume; set DATABASE_URL for PostgreSQL",
			c.Database.SQLitePath, c.Database.SQLitePath))
	}
	if c.Production() && c.HTTP.MetricsAddr == "" {
		warnings = append(warnings, "production serves /metrics on the public port (AGORA_METRICS_ADDR is not set): "+
			"anyone who reaches the API reads the metrics; set AGORA_METRICS_ADDR (e.g. :9090) to serve them on an internal port only")
	}
	if c.HTTP.HeapProfile && c.HTTP.MetricsAddr == "" {
		warnings = append(warnings, "AGORA_HEAP_PROFILE samples allocations, but only AGORA_METRICS_ADDR serves the profiles: set it too, or leave AGORA_HEAP_PROFILE off")
	}
	return warnings
}

// OriginPatternProblems lists the patterns of AGORA_ALLOWED_ORIGINS that no page's Origin can
// ever match, each with what is wrong. A browser sends Origin as scheme://host[:port] — no path,
// no trailing slash, no default port (:80 for http, :443 for https) — and a pattern is host[:port]
// (any scheme) or scheme://host[:port], with path.Match wildcards (*.example.org, localhost:*).
func OriginPatternProblems(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		if why := originPatternProblem(p); why != "" {
			out = append(out, fmt.Sprintf("AGORA_ALLOWED_ORIGINS: %q can never match a page's origin: %s", p, why))
		}
	}
	return out
}

func originPatternProblem(p string) string {
	if _, err := path.Match(p, ""); err != nil {
		return "it is not a valid pattern (path.Match syntax: *, ?, [a-z]); write host:port or scheme://host:port, e.g. http://localhost:5173"
	}
	if strings.ContainsAny(p, " \t\"'") {
		return "it holds spaces or quotes"
	}
	scheme, host, hasScheme := strings.Cut(p, "://")
	if !hasScheme {
		host = p
		if strings.Contains(p, ":/") || strings.Contains(p, "//") {
			return "write the scheme as http:// or https://, e.g. http://localhost:5173"
		}
	} else if http, _ := path.Match(scheme, "http"); !http {
		if https, _ := path.Match(scheme, "https"); !https {
			return fmt.Sprintf("pages are served over http or https, not %q", scheme)
		}
	}
	if strings.HasPrefix(host, "[") {
		return `brackets are pattern syntax (path.Match): write an IPv6 address as \[::1\]:5173`
	}
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		if host[i:] == "/" {
			return "an origin has no trailing slash: write " + strings.TrimSuffix(p, "/")
		}
		return "an origin has no path, query or fragment: write only scheme://host:port, e.g. " + p[:len(p)-len(host)+i]
	}
	if strings.Contains(host, "@") {
		return "an origin has no user name or password"
	}
	if host == "" {
		return "it names no host"
	}
	name, port := host, ""
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.HasSuffix(host, "]") {
		name, port = host[:i], host[i+1:]
		if port == "" {
			return "the port is empty: write host:port, host:* or host alone"
		}
	}
	if name == "" {
		return "it names no host"
	}
	if port != "" && !strings.ContainsAny(port, "*?[") {
		n, err := strconv.Atoi(port)
		switch {
		case err != nil || n < 1 || n > 65535:
			return fmt.Sprintf("%q is not a port", port)
		case hasScheme && (scheme == "http" && n == 80 || scheme == "https" && n == 443):
			return fmt.Sprintf("browsers leave the default port out of the origin: write %s://%s", scheme, name)
		}
	}
	return ""
}

// Exposed names the schema-revealing features on in production (each set to true explicitly),
// for a warning at start.
func (c Config) Exposed() []string {
	if !c.Production() {
		return nil
	}
	var on []string
	for name, v := range map[string]bool{"AGORA_GRAPHIQL": c.GraphQL.GraphiQL, "AGORA_INTROSPECTION": c.GraphQL.Introspection,
		"AGORA_FIELD_SUGGESTIONS": c.GraphQL.FieldSuggestions} {
		if v {
			on = append(on, name)
		}
	}
	slices.Sort(on)
	return on
}

// String prints the effective configuration with secrets masked, for the start-up log: the JWT
// keys only as set or not (and how many previous ones), the URLs without passwords.
func (c Config) String() string {
	secret := "(generated)"
	if c.Auth.JWTSecret != "" {
		secret = "(set)"
	}
	redisName := "in-process"
	if c.Redis.URL != "" {
		redisName = maskURL(c.Redis.URL)
	}
	metrics := c.HTTP.MetricsAddr
	if metrics == "" {
		metrics = c.HTTP.Addr
	}
	mailTo := "folder:" + c.Mail.Dir
	if c.Mail.SMTPURL != "" {
		mailTo = maskURL(c.Mail.SMTPURL)
	}
	h, db, a, r, l, g := c.HTTP, c.Database, c.Auth, c.RateLimits, c.Limits, c.GraphQL
	proxies := make([]string, len(h.TrustedProxies))
	for i, p := range h.TrustedProxies {
		proxies[i] = p.String()
	}
	return fmt.Sprintf("env=%s addr=%s metrics_addr=%s heap_profile=%t database=%s db_max_conns=%d redis=%s auto_migrate=%t "+
		"jwt_secret=%s jwt_previous_secrets=%d token_issuer=%q access_token_ttl=%s session_ttl=%s log_level=%s "+
		"login_limit_account=%s login_limit_ip=%s rate_limit_ip=%s rate_limit_user=%s rate_limit_register=%s rate_limit_message=%s rate_limit_search=%s rate_limit_account_mail=%s "+
		"allowed_origins=%q max_subscriptions=%d socket_recheck=%s max_depth=%d max_aliases=%d max_root_fields=%d max_tokens=%d max_cost=%d search_max_ranked=%d "+
		"public_max_age=%s introspection=%t field_suggestions=%t graphiql=%t trusted_documents=%q federation_auth_directives=%s max_body_bytes=%d "+
		"read_header_timeout=%s read_timeout=%s write_timeout=%s idle_timeout=%s operation_timeout=%s statement_timeout=%s "+
		"batch_max=%d csrf_prevention=%t compress_min_bytes=%d shutdown_grace=%s mail=%s mail_from=%q base_url=%s email_verify_ttl=%s require_verified_email=%t trusted_proxies=%q proxy_header=%s refresh_cookie=%t refresh_grace=%s "+
		"jobs_workers=%t jobs_concurrency=%d jobs_timeout=%s jobs_rescue_after=%s jobs_stop_grace=%s notification_retention=%s notification_digest_interval=%s",
		c.Env, h.Addr, metrics, h.HeapProfile, db.Name(), db.MaxConnections, redisName, db.AutoMigrate,
		secret, len(a.JWTPreviousSecrets), a.TokenIssuer, a.AccessTokenTTL, a.SessionTTL, c.LogLevel,
		r.LoginPerAccount, r.LoginPerIP, r.RequestsPerIP, r.RequestsPerUser, r.SignUpsPerIP, r.MessagesPerUser, r.SearchesPerCaller, r.AccountMail,
		strings.Join(h.AllowedOrigins, ","), c.Realtime.MaxSubscriptions, c.Realtime.SocketRecheck, l.Depth, l.Aliases, l.RootFields, l.Tokens, l.Cost, l.SearchRanked,
		h.PublicMaxAge, g.Introspection, g.FieldSuggestions, g.GraphiQL, g.TrustedDocuments, g.FederationAuthDirectives, h.MaxBodyBytes,
		h.ReadHeaderTimeout, h.ReadTimeout, h.WriteTimeout, h.IdleTimeout, g.OperationTimeout, db.StatementTimeout,
		h.MaxBatch, h.CSRFPrevention, h.CompressMinBytes, h.ShutdownGrace, mailTo, c.Mail.From, c.Mail.BaseURL, c.Mail.VerifyTTL, c.Mail.RequireVerified, strings.Join(proxies, ","), h.ProxyHeader, a.RefreshCookie, a.RefreshGrace,
		c.Jobs.Workers, c.Jobs.Concurrency, c.Jobs.Timeout, c.Jobs.RescueAfter, c.Jobs.StopGrace, c.Jobs.NotificationRetention, c.Jobs.DigestEvery) + " " + c.Channels.String() + " " + c.Identity.String() + " " + c.Media.String() + " " + c.Payments.String()
}

// Name describes the database without credentials.
func (d Database) Name() string {
	if d.URL == "" {
		return "sqlite:" + d.SQLitePath
	}
	return maskURL(d.URL)
}

// Budget allows Burst events per Per, refilling evenly: a rate limit, written "N/duration" in its
// variable (e.g. 10/15m).
type Budget struct {
	Burst int
	Per   time.Duration
}

// ParseBudget reads a budget written "N/duration", e.g. "10/15m".
func ParseBudget(s string) (Budget, error) {
	n, per, ok := strings.Cut(s, "/")
	burst, err := strconv.Atoi(n)
	d, derr := time.ParseDuration(per)
	if !ok || err != nil || derr != nil || burst < 1 || d <= 0 {
		return Budget{}, wantError(fmt.Sprintf("want N/duration like 10/15m, got %q", s))
	}
	return Budget{Burst: burst, Per: d}, nil
}

// String writes b as its variable does: "10/15m", "600/1m", "10/1h".
func (b Budget) String() string {
	return fmt.Sprintf("%d/%s", b.Burst, shortDuration(b.Per))
}

// shortDuration writes d as one would in a variable: 15m, 1h, 1m30s, 10s (not 15m0s, 1h0m0s).
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// maskURL hides a URL's password, in its user information or in a query parameter
// (password=, sslpassword=…).
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxx")
		}
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

func parseInt64(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

// parsePrefixes reads comma-separated CIDRs (10.0.0.0/8, fd00::/8) or single addresses.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range list(s) {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, wantError(fmt.Sprintf("want comma-separated CIDRs or addresses such as 10.0.0.0/8,192.168.1.10, got %q", item))
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func get(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func parse[T any](errs *[]error, key string, def T, fn func(string) (T, error)) T {
	s, ok := os.LookupEnv(key)
	if !ok || s == "" {
		return def
	}
	v, err := fn(s)
	var want wantError
	switch {
	case errors.As(err, &want):
		*errs = append(*errs, fmt.Errorf("%s: %w", key, err))
		return def
	case err != nil:
		*errs = append(*errs, fmt.Errorf("%s: %s, got %q", key, expected(def), s))
		return def
	}
	return v
}

// expected says what a setting of def's type is written as, with an example.
func expected(def any) string {
	switch d := def.(type) {
	case time.Duration:
		example := "15m"
		if d > 0 {
			example = shortDuration(d)
		}
		return "want a duration such as " + example + " (a number with a unit: ms, s, m or h)"
	case bool:
		return "want true or false"
	case int, int64:
		return fmt.Sprintf("want a whole number such as %d", d)
	}
	return "cannot parse it"
}

// wantError is a parse error that says what is wanted, reported as it is.
type wantError string

func (e wantError) Error() string { return string(e) }

// list splits a comma-separated value, leaving out empty items.
func list(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// loadDotEnv sets variables from a KEY=VALUE file that are not set already. A missing file is fine.
func loadDotEnv(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			return fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i]) // an unquoted value ends at a comment
		}
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
	return sc.Err()
}

// The TLS modes of an smtp:// SMTP_URL (?tls=…).
const (
	TLSMandatory     = "mandatory"     // STARTTLS, refuse a server without it (default)
	TLSOpportunistic = "opportunistic" // STARTTLS when offered, plain otherwise (local development)
	TLSNone          = "none"          // never encrypt (a local test server or relay)
)

// SMTPServer is an SMTP_URL taken apart.
type SMTPServer struct {
	Host     string
	Port     int           // default 587 for smtp://, 465 for smtps://
	Implicit bool          // smtps://: TLS from the first byte
	TLS      string        // smtp://: TLSMandatory (default), TLSOpportunistic or TLSNone; smtps://: TLSMandatory
	Username string        // AUTH when set (the URL's user information)
	Password string        //
	Timeout  time.Duration // ?timeout=: per connection and per command (default 30s)
}

// String shows the server without its password.
func (s SMTPServer) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	if s.Implicit {
		u.Scheme = "smtps"
	}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	return fmt.Sprintf("%s tls=%s timeout=%s", u.String(), s.TLS, s.Timeout)
}

// ParseSMTPURL reads an SMTP_URL: smtp://[user:pass@]host[:port][?tls=mandatory|opportunistic|none][&timeout=30s]
// or smtps://[user:pass@]host[:port][?timeout=30s]. Its errors name SMTP_URL and never show the password.
func ParseSMTPURL(raw string) (SMTPServer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPServer{}, errors.New("SMTP_URL: cannot parse the URL") // the parse error would quote the password
	}
	s := SMTPServer{Host: u.Hostname(), TLS: TLSMandatory, Timeout: 30 * time.Second}
	switch u.Scheme {
	case "smtp":
		s.Port = 587
	case "smtps":
		s.Port, s.Implicit = 465, true
	default:
		return SMTPServer{}, fmt.Errorf("SMTP_URL: want an smtp:// (STARTTLS) or smtps:// (implicit TLS) URL, got scheme %q", u.Scheme)
	}
	if s.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return SMTPServer{}, errors.New("SMTP_URL: want scheme://[user:password@]host[:port], e.g. smtp://agora:secret@smtp.example.com:587")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPServer{}, fmt.Errorf("SMTP_URL: bad port %q", p)
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" {
			return SMTPServer{}, errors.New("SMTP_URL: the user information has no user name")
		}
	}
	for k, v := range u.Query() {
		switch {
		case k == "tls" && !s.Implicit && len(v) == 1 && (v[0] == TLSMandatory || v[0] == TLSOpportunistic || v[0] == TLSNone):
			s.TLS = v[0]
		case k == "tls" && s.Implicit:
			return SMTPServer{}, errors.New("SMTP_URL: smtps:// is always TLS; tls= applies to smtp:// only")
		case k == "tls":
			return SMTPServer{}, fmt.Errorf("SMTP_URL: tls= wants %s, %s or %s, got %q", TLSMandatory, TLSOpportunistic, TLSNone, strings.Join(v, ","))
		case k == "timeout":
			d, err := time.ParseDuration(v[0])
			if err != nil || d <= 0 || len(v) != 1 {
				return SMTPServer{}, fmt.Errorf("SMTP_URL: timeout= wants a positive duration, got %q", strings.Join(v, ","))
			}
			s.Timeout = d
		default:
			return SMTPServer{}, fmt.Errorf("SMTP_URL: unknown parameter %q (known: tls, timeout)", k)
		}
	}
	return s, nil
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
