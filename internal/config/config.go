// Package config reads Agora's settings from the environment (and an optional .env file).
package config

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is every setting Agora reads. Zero-configuration defaults run a development server on an
// embedded SQLite file.
type Config struct {
	Env             string        // AGORA_ENV: development (default) or production
	Addr            string        // PORT → ":PORT" (default 8080)
	DatabaseURL     string        // DATABASE_URL: postgres://… ; empty → embedded SQLite
	SQLitePath      string        // AGORA_SQLITE_PATH (default agora.db)
	RedisURL        string        // REDIS_URL: redis://… shares state across replicas; empty → in-process
	AutoMigrate     bool          // AGORA_AUTO_MIGRATE: apply pending migrations at start-up (default true)
	JWTSecret       string        // AGORA_JWT_SECRET: at least 32 bytes; generated in development when empty
	JWTPrevious     []string      // AGORA_JWT_PREVIOUS_SECRETS: comma-separated keys that still verify (rotation)
	TokenIssuer     string        // AGORA_TOKEN_ISSUER (default agora)
	AccessTokenTTL  time.Duration // AGORA_ACCESS_TOKEN_TTL (default 15m)
	SessionTTL      time.Duration // AGORA_SESSION_TTL: a session ends unless refreshed within it (default 720h)
	LogLevel        string        // AGORA_LOG_LEVEL: debug, info (default), warn, error
	LoginPerAcct    string        // AGORA_LOGIN_LIMIT_ACCOUNT: failed sign-ins on one account from one client address, N/duration (default 10/15m)
	LoginPerIP      string        // AGORA_LOGIN_LIMIT_IP: failed sign-ins per client address (default 30/5m)
	RateLimitIP     string        // AGORA_RATE_LIMIT_IP: requests per client address of anonymous callers, N/duration (default 600/1m)
	RateLimitUser   string        // AGORA_RATE_LIMIT_USER: requests per signed-in user (default 1200/1m)
	RateLimitReg    string        // AGORA_RATE_LIMIT_REGISTER: sign-ups per client address (default 10/1h)
	RateLimitMsg    string        // AGORA_RATE_LIMIT_MESSAGE: messages sent per user (default 30/1m)
	RateLimitSearch string        // AGORA_RATE_LIMIT_SEARCH: post searches per user or anonymous client address (default 60/1m)
	ShutdownGrace   time.Duration // AGORA_SHUTDOWN_GRACE: how long in-flight requests may finish after SIGTERM (default 15s)
	DBMaxConns      int           // AGORA_DB_MAX_CONNS: PostgreSQL pool size (default 20)
	Origins         []string      // AGORA_ALLOWED_ORIGINS: comma-separated host patterns of other sites' pages that may open sockets (default none)
	MaxSubs         int           // AGORA_MAX_SUBSCRIPTIONS: subscriptions per connection (default 20)
	SocketRecheck   time.Duration // AGORA_SOCKET_RECHECK: how often an open socket's token and session are checked again (default 30s)
	MaxDepth        int           // AGORA_MAX_DEPTH: field nesting per operation (default 12)
	MaxAliases      int           // AGORA_MAX_ALIASES: aliased fields per operation (default 30)
	MaxRootFields   int           // AGORA_MAX_ROOT_FIELDS: top-level fields per operation (default 20)
	MaxTokens       int           // AGORA_MAX_TOKENS: tokens per document (default 15000)
	MaxCost         int           // AGORA_MAX_COST: connection-aware cost per operation (default 25000)
	PublicMaxAge    time.Duration // AGORA_PUBLIC_MAX_AGE: how long shared caches (CDNs) may keep anonymous GET answers (default 0: not at all)

	// Exposure of the schema: on in development, off in production unless set.
	Introspection    bool // AGORA_INTROSPECTION: __schema and __type queries
	FieldSuggestions bool // AGORA_FIELD_SUGGESTIONS: "Did you mean …?" in validation errors
	GraphiQL         bool // AGORA_GRAPHIQL: the GraphiQL page at /

	TrustedDocuments string // AGORA_TRUSTED_DOCUMENTS: path of a persisted-operation manifest; when set, only its operations run

	// HTTP limits.
	MaxBodyBytes      int64         // AGORA_MAX_BODY_BYTES: request body limit (default 1 MiB)
	ReadHeaderTimeout time.Duration // AGORA_READ_HEADER_TIMEOUT (default 10s)
	ReadTimeout       time.Duration // AGORA_READ_TIMEOUT (default 30s)
	WriteTimeout      time.Duration // AGORA_WRITE_TIMEOUT (default 60s; event streams are exempt)
	IdleTimeout       time.Duration // AGORA_IDLE_TIMEOUT (default 120s)
	OperationTimeout  time.Duration // AGORA_OPERATION_TIMEOUT: deadline of one query or mutation (default 15s; 0 = none)
	StatementTimeout  time.Duration // AGORA_STATEMENT_TIMEOUT: PostgreSQL statement_timeout of the pool's connections (default 30s; 0 = none)
	BatchMax          int           // AGORA_BATCH_MAX: operations one POST may batch in a JSON array (default 0: batching off)
	CSRFPrevention    bool          // AGORA_CSRF_PREVENTION: refuse requests a browser sends without a preflight (default true)
	CompressMinBytes  int           // AGORA_COMPRESS_MIN_BYTES: gzip responses from this size on (default 1024; 0 = never)

	MetricsAddr string // AGORA_METRICS_ADDR: serve /metrics on this address (e.g. :9090) instead of the public port (default: the public port)

	Channels Channels // budgets and caps of sockets, subscriptions, persisted queries and Redis waits (channels.go)
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
	c := Config{
		Env:             get("AGORA_ENV", "development"),
		Addr:            ":" + get("PORT", "8080"),
		DatabaseURL:     os.Getenv("DATABASE_URL"),
		SQLitePath:      get("AGORA_SQLITE_PATH", "agora.db"),
		RedisURL:        os.Getenv("REDIS_URL"),
		AutoMigrate:     parse(&errs, "AGORA_AUTO_MIGRATE", true, strconv.ParseBool),
		JWTSecret:       os.Getenv("AGORA_JWT_SECRET"),
		TokenIssuer:     get("AGORA_TOKEN_ISSUER", "agora"),
		AccessTokenTTL:  parse(&errs, "AGORA_ACCESS_TOKEN_TTL", 15*time.Minute, time.ParseDuration),
		SessionTTL:      parse(&errs, "AGORA_SESSION_TTL", 30*24*time.Hour, time.ParseDuration),
		LogLevel:        get("AGORA_LOG_LEVEL", "info"),
		LoginPerAcct:    get("AGORA_LOGIN_LIMIT_ACCOUNT", "10/15m"),
		LoginPerIP:      get("AGORA_LOGIN_LIMIT_IP", "30/5m"),
		RateLimitIP:     get("AGORA_RATE_LIMIT_IP", "600/1m"),
		RateLimitUser:   get("AGORA_RATE_LIMIT_USER", "1200/1m"),
		RateLimitReg:    get("AGORA_RATE_LIMIT_REGISTER", "10/1h"),
		RateLimitMsg:    get("AGORA_RATE_LIMIT_MESSAGE", "30/1m"),
		RateLimitSearch: get("AGORA_RATE_LIMIT_SEARCH", "60/1m"),
		ShutdownGrace:   parse(&errs, "AGORA_SHUTDOWN_GRACE", 15*time.Second, time.ParseDuration),
		DBMaxConns:      parse(&errs, "AGORA_DB_MAX_CONNS", 20, strconv.Atoi),
		PublicMaxAge:    parse(&errs, "AGORA_PUBLIC_MAX_AGE", 0, time.ParseDuration),
		MaxSubs:         parse(&errs, "AGORA_MAX_SUBSCRIPTIONS", 20, strconv.Atoi),
		MaxDepth:        parse(&errs, "AGORA_MAX_DEPTH", 12, strconv.Atoi),
		MaxAliases:      parse(&errs, "AGORA_MAX_ALIASES", 30, strconv.Atoi),
		MaxRootFields:   parse(&errs, "AGORA_MAX_ROOT_FIELDS", 20, strconv.Atoi),
		MaxTokens:       parse(&errs, "AGORA_MAX_TOKENS", 15_000, strconv.Atoi),
		MaxCost:         parse(&errs, "AGORA_MAX_COST", 25_000, strconv.Atoi),
		SocketRecheck:   parse(&errs, "AGORA_SOCKET_RECHECK", 30*time.Second, time.ParseDuration),

		TrustedDocuments:  os.Getenv("AGORA_TRUSTED_DOCUMENTS"),
		MaxBodyBytes:      parse(&errs, "AGORA_MAX_BODY_BYTES", int64(1<<20), parseInt64),
		ReadHeaderTimeout: parse(&errs, "AGORA_READ_HEADER_TIMEOUT", 10*time.Second, time.ParseDuration),
		ReadTimeout:       parse(&errs, "AGORA_READ_TIMEOUT", 30*time.Second, time.ParseDuration),
		WriteTimeout:      parse(&errs, "AGORA_WRITE_TIMEOUT", 60*time.Second, time.ParseDuration),
		IdleTimeout:       parse(&errs, "AGORA_IDLE_TIMEOUT", 120*time.Second, time.ParseDuration),
		OperationTimeout:  parse(&errs, "AGORA_OPERATION_TIMEOUT", 15*time.Second, time.ParseDuration),
		StatementTimeout:  parse(&errs, "AGORA_STATEMENT_TIMEOUT", 30*time.Second, time.ParseDuration),
		BatchMax:          parse(&errs, "AGORA_BATCH_MAX", 0, strconv.Atoi),
		CSRFPrevention:    parse(&errs, "AGORA_CSRF_PREVENTION", true, strconv.ParseBool),
		CompressMinBytes:  parse(&errs, "AGORA_COMPRESS_MIN_BYTES", 1024, strconv.Atoi),
		MetricsAddr:       os.Getenv("AGORA_METRICS_ADDR"),
	}
	var channelErrs []error
	c.Channels, channelErrs = loadChannels()
	errs = append(errs, channelErrs...)
	development := c.Env != "production"
	c.Introspection = parse(&errs, "AGORA_INTROSPECTION", development, strconv.ParseBool)
	c.FieldSuggestions = parse(&errs, "AGORA_FIELD_SUGGESTIONS", development, strconv.ParseBool)
	c.GraphiQL = parse(&errs, "AGORA_GRAPHIQL", development, strconv.ParseBool)
	if c.Env != "development" && c.Env != "production" {
		errs = append(errs, fmt.Errorf("AGORA_ENV: want development or production, got %q", c.Env))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("DATABASE_URL: want a postgres:// URL"))
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		errs = append(errs, errors.New("REDIS_URL: want a redis:// or rediss:// URL"))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, errors.New("AGORA_JWT_SECRET: want at least 32 bytes"))
	}
	for _, k := range strings.Split(os.Getenv("AGORA_JWT_PREVIOUS_SECRETS"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			c.JWTPrevious = append(c.JWTPrevious, k)
		}
	}
	if c.SessionTTL <= 0 {
		errs = append(errs, errors.New("AGORA_SESSION_TTL: want a positive duration"))
	}
	if c.AccessTokenTTL <= 0 {
		errs = append(errs, errors.New("AGORA_ACCESS_TOKEN_TTL: want a positive duration"))
	}
	if c.DBMaxConns < 2 { // migrations hold one connection for their lock and write on another
		errs = append(errs, errors.New("AGORA_DB_MAX_CONNS: want at least 2"))
	}
	for _, o := range strings.Split(os.Getenv("AGORA_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.Origins = append(c.Origins, o)
		}
	}
	for name, v := range map[string]int{"AGORA_MAX_DEPTH": c.MaxDepth, "AGORA_MAX_ALIASES": c.MaxAliases,
		"AGORA_MAX_ROOT_FIELDS": c.MaxRootFields, "AGORA_MAX_TOKENS": c.MaxTokens, "AGORA_MAX_COST": c.MaxCost} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s: want at least 1", name))
		}
	}
	if c.MaxSubs < 1 {
		errs = append(errs, errors.New("AGORA_MAX_SUBSCRIPTIONS: want at least 1"))
	}
	if c.SocketRecheck <= 0 {
		errs = append(errs, errors.New("AGORA_SOCKET_RECHECK: want a positive duration"))
	}
	if c.ShutdownGrace <= 0 {
		errs = append(errs, errors.New("AGORA_SHUTDOWN_GRACE: want a positive duration"))
	}
	if c.MaxBodyBytes < 1 {
		errs = append(errs, errors.New("AGORA_MAX_BODY_BYTES: want at least 1"))
	}
	for name, d := range map[string]time.Duration{"AGORA_READ_HEADER_TIMEOUT": c.ReadHeaderTimeout,
		"AGORA_READ_TIMEOUT": c.ReadTimeout, "AGORA_WRITE_TIMEOUT": c.WriteTimeout, "AGORA_IDLE_TIMEOUT": c.IdleTimeout,
		"AGORA_OPERATION_TIMEOUT": c.OperationTimeout, "AGORA_STATEMENT_TIMEOUT": c.StatementTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: want a duration of 0 or more", name))
		}
	}
	if c.BatchMax < 0 || c.CompressMinBytes < 0 {
		errs = append(errs, errors.New("AGORA_BATCH_MAX, AGORA_COMPRESS_MIN_BYTES: want 0 or more"))
	}
	if c.PublicMaxAge < 0 {
		errs = append(errs, errors.New("AGORA_PUBLIC_MAX_AGE: want a duration of 0 or more"))
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.Addr {
		errs = append(errs, errors.New("AGORA_METRICS_ADDR: must differ from PORT (leave it empty to serve /metrics on the public port)"))
	}
	if c.Production() {
		errs = append(errs, c.insecure()...)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("AGORA_LOG_LEVEL: want debug, info, warn or error, got %q", c.LogLevel))
	}
	return c, errors.Join(errs...)
}

// insecure lists what production refuses. GraphiQL, introspection and field suggestions are off
// in production unless set: setting one to true there is the operator's explicit opt-in (and
// is logged as a warning at start), not a refusal.
func (c Config) insecure() []error {
	var errs []error
	if c.JWTSecret == "" {
		errs = append(errs, errors.New("AGORA_JWT_SECRET: required in production (at least 32 bytes, e.g. `openssl rand -hex 32`)"))
	}
	for _, k := range c.JWTPrevious {
		if len(k) < 32 {
			errs = append(errs, errors.New("AGORA_JWT_PREVIOUS_SECRETS: each key must be at least 32 bytes in production"))
			break
		}
	}
	if !c.CSRFPrevention {
		errs = append(errs, errors.New("AGORA_CSRF_PREVENTION=false is refused in production: any site's page could send simple requests to the API"))
	}
	for _, o := range c.Origins {
		if every, _ := path.Match(o, "any-site.invalid"); every {
			errs = append(errs, fmt.Errorf("AGORA_ALLOWED_ORIGINS: %q matches every site, refused in production: name the sites whose pages may call the API", o))
		}
	}
	return errs
}

// Exposed names the schema-revealing features on in production (each set to true explicitly),
// for a warning at start.
func (c Config) Exposed() []string {
	if !c.Production() {
		return nil
	}
	var on []string
	for name, v := range map[string]bool{"AGORA_GRAPHIQL": c.GraphiQL, "AGORA_INTROSPECTION": c.Introspection,
		"AGORA_FIELD_SUGGESTIONS": c.FieldSuggestions} {
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
	if c.JWTSecret != "" {
		secret = "(set)"
	}
	redisName := "in-process"
	if c.RedisURL != "" {
		redisName = maskURL(c.RedisURL)
	}
	metrics := c.MetricsAddr
	if metrics == "" {
		metrics = c.Addr
	}
	return fmt.Sprintf("env=%s addr=%s metrics_addr=%s database=%s db_max_conns=%d redis=%s auto_migrate=%t "+
		"jwt_secret=%s jwt_previous_secrets=%d token_issuer=%q access_token_ttl=%s session_ttl=%s log_level=%s "+
		"login_limit_account=%s login_limit_ip=%s rate_limit_ip=%s rate_limit_user=%s rate_limit_register=%s rate_limit_message=%s rate_limit_search=%s "+
		"allowed_origins=%q max_subscriptions=%d socket_recheck=%s max_depth=%d max_aliases=%d max_root_fields=%d max_tokens=%d max_cost=%d "+
		"public_max_age=%s introspection=%t field_suggestions=%t graphiql=%t trusted_documents=%q max_body_bytes=%d "+
		"read_header_timeout=%s read_timeout=%s write_timeout=%s idle_timeout=%s operation_timeout=%s statement_timeout=%s "+
		"batch_max=%d csrf_prevention=%t compress_min_bytes=%d shutdown_grace=%s",
		c.Env, c.Addr, metrics, c.DatabaseName(), c.DBMaxConns, redisName, c.AutoMigrate,
		secret, len(c.JWTPrevious), c.TokenIssuer, c.AccessTokenTTL, c.SessionTTL, c.LogLevel,
		c.LoginPerAcct, c.LoginPerIP, c.RateLimitIP, c.RateLimitUser, c.RateLimitReg, c.RateLimitMsg, c.RateLimitSearch,
		strings.Join(c.Origins, ","), c.MaxSubs, c.SocketRecheck, c.MaxDepth, c.MaxAliases, c.MaxRootFields, c.MaxTokens, c.MaxCost,
		c.PublicMaxAge, c.Introspection, c.FieldSuggestions, c.GraphiQL, c.TrustedDocuments, c.MaxBodyBytes,
		c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.OperationTimeout, c.StatementTimeout,
		c.BatchMax, c.CSRFPrevention, c.CompressMinBytes, c.ShutdownGrace) + " " + c.Channels.String()
}

// DatabaseName describes the database without credentials.
func (c Config) DatabaseName() string {
	if c.DatabaseURL == "" {
		return "sqlite:" + c.SQLitePath
	}
	return maskURL(c.DatabaseURL)
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
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: cannot parse %q", key, s))
		return def
	}
	return v
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
