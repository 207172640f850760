package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	t.Chdir(t.TempDir()) // no .env
	for _, k := range []string{"AGORA_ENV", "PORT", "DATABASE_URL", "AGORA_SQLITE_PATH", "AGORA_AUTO_MIGRATE",
		"AGORA_JWT_SECRET", "AGORA_ACCESS_TOKEN_TTL", "AGORA_LOG_LEVEL", "AGORA_DB_MAX_CONNS", "AGORA_RATE_LIMIT_IP",
		"AGORA_RATE_LIMIT_USER", "AGORA_RATE_LIMIT_REGISTER", "AGORA_RATE_LIMIT_MESSAGE", "AGORA_SHUTDOWN_GRACE"} {
		t.Setenv(k, "")
	}
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.SQLitePath != "agora.db" || !c.AutoMigrate || c.AccessTokenTTL != 15*time.Minute || c.Production() ||
		c.RateLimitIP != "600/1m" || c.RateLimitUser != "1200/1m" || c.RateLimitReg != "10/1h" || c.RateLimitMsg != "30/1m" ||
		c.ShutdownGrace != 15*time.Second {
		t.Fatalf("defaults: %+v", c)
	}

	t.Setenv("DATABASE_URL", "postgres://agora:hunter2@db:5432/agora")
	t.Setenv("AGORA_JWT_SECRET", strings.Repeat("s", 32))
	c, err = Load()
	if err != nil {
		t.Fatal(err)
	}
	if s := c.String(); strings.Contains(s, "hunter2") || strings.Contains(s, "sssss") {
		t.Fatalf("secrets printed: %s", s)
	}

	t.Setenv("AGORA_ENV", "production")
	t.Setenv("AGORA_JWT_SECRET", "")
	t.Setenv("AGORA_ACCESS_TOKEN_TTL", "soon")
	t.Setenv("DATABASE_URL", "mysql://x")
	t.Setenv("AGORA_SHUTDOWN_GRACE", "0s")
	_, err = Load()
	for _, want := range []string{"AGORA_JWT_SECRET", "AGORA_ACCESS_TOKEN_TTL", "DATABASE_URL", "AGORA_SHUTDOWN_GRACE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error naming %s, got %v", want, err)
		}
	}
}

func TestDotEnv(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	env := "# comment\nAGORA_LOG_LEVEL=warn   # inline comment\nexport AGORA_TOKEN_ISSUER=\"my issuer # not a comment\"\nPORT=9999\n"
	if err := os.WriteFile(".env", []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORT", "7777") // set: wins over .env
	for _, k := range []string{"AGORA_LOG_LEVEL", "AGORA_TOKEN_ISSUER"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "warn" || c.TokenIssuer != "my issuer # not a comment" || c.Addr != ":7777" {
		t.Fatalf("from .env: log level %q, issuer %q, addr %q", c.LogLevel, c.TokenIssuer, c.Addr)
	}
}

// TestExposureAndHTTPDefaults: introspection, suggestions and GraphiQL follow AGORA_ENV unless set;
// the HTTP limits have their documented defaults.
func TestExposureAndHTTPDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, k := range []string{"AGORA_INTROSPECTION", "AGORA_FIELD_SUGGESTIONS", "AGORA_GRAPHIQL", "AGORA_MAX_BODY_BYTES",
		"AGORA_OPERATION_TIMEOUT", "AGORA_STATEMENT_TIMEOUT", "AGORA_BATCH_MAX", "AGORA_CSRF_PREVENTION", "AGORA_COMPRESS_MIN_BYTES",
		"AGORA_READ_HEADER_TIMEOUT", "AGORA_READ_TIMEOUT", "AGORA_WRITE_TIMEOUT", "AGORA_IDLE_TIMEOUT", "AGORA_TRUSTED_DOCUMENTS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AGORA_JWT_SECRET", strings.Repeat("s", 32))
	t.Setenv("AGORA_ENV", "development")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !c.Introspection || !c.FieldSuggestions || !c.GraphiQL {
		t.Errorf("development: want introspection, suggestions and GraphiQL on: %+v", c)
	}
	if c.MaxBodyBytes != 1<<20 || c.OperationTimeout != 15*time.Second || c.StatementTimeout != 30*time.Second || c.BatchMax != 0 ||
		!c.CSRFPrevention || c.CompressMinBytes != 1024 || c.ReadHeaderTimeout != 10*time.Second || c.ReadTimeout != 30*time.Second ||
		c.WriteTimeout != 60*time.Second || c.IdleTimeout != 120*time.Second || c.TrustedDocuments != "" {
		t.Errorf("HTTP defaults: %+v", c)
	}
	t.Setenv("AGORA_ENV", "production")
	if c, err = Load(); err != nil || c.Introspection || c.FieldSuggestions || c.GraphiQL {
		t.Errorf("production: want them off: %v %+v", err, c)
	}
	t.Setenv("AGORA_INTROSPECTION", "true")
	t.Setenv("AGORA_GRAPHIQL", "true")
	if c, err = Load(); err != nil || !c.Introspection || c.FieldSuggestions || !c.GraphiQL {
		t.Errorf("production, enabled explicitly: %v %+v", err, c)
	}
	t.Setenv("AGORA_BATCH_MAX", "-1")
	t.Setenv("AGORA_OPERATION_TIMEOUT", "-1s")
	if _, err = Load(); err == nil || !strings.Contains(err.Error(), "AGORA_BATCH_MAX") || !strings.Contains(err.Error(), "AGORA_OPERATION_TIMEOUT") {
		t.Errorf("negative settings: %v", err)
	}
}

// TestEnvExample keeps .env.example complete and true: it lists every variable Load reads, no
// other, and each row's value is the default (setting it changes nothing).
func TestEnvExample(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	var source []byte
	for _, name := range []string{"config.go", "channels.go"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		source = append(source, b...)
	}
	read := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:get|parse|Getenv)\((?:&errs, )?"([A-Z_]+)"`).FindAllSubmatch(source, -1) {
		read[string(m[1])] = true
	}
	if len(read) < 40 {
		t.Fatalf("found only %d variables in config.go: is the pattern still right?", len(read))
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(example), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "# "), "=")
		if !ok || !regexp.MustCompile(`^[A-Z][A-Z_]+$`).MatchString(k) {
			continue
		}
		v, _, _ = strings.Cut(v, " #")
		rows[k] = strings.TrimSpace(v)
	}
	for k := range read {
		if _, ok := rows[k]; !ok {
			t.Errorf(".env.example has no row for %s", k)
		}
	}
	t.Chdir(t.TempDir()) // no .env
	for k := range rows {
		if !read[k] && !strings.HasPrefix(k, "OTEL_") { // OTEL_* are the OpenTelemetry SDK's to read
			t.Errorf(".env.example lists %s, which config does not read", k)
		}
		t.Setenv(k, "")
	}
	defaults, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rows {
		t.Setenv(k, v)
		c, err := Load()
		if err != nil || !reflect.DeepEqual(c, defaults) {
			t.Errorf(".env.example: %s=%s is not the default (err %v)", k, v, err)
		}
		t.Setenv(k, "")
	}
}

// TestProduction: production mode refuses insecure settings, each with a message naming the
// variable, and takes an explicit GraphiQL or introspection as the operator's opt-in.
func TestProduction(t *testing.T) {
	t.Chdir(t.TempDir())
	secure := map[string]string{"AGORA_ENV": "production", "AGORA_JWT_SECRET": strings.Repeat("k", 32),
		"AGORA_JWT_PREVIOUS_SECRETS": "", "AGORA_CSRF_PREVENTION": "", "AGORA_ALLOWED_ORIGINS": "app.example.com",
		"AGORA_GRAPHIQL": "", "AGORA_INTROSPECTION": "", "AGORA_FIELD_SUGGESTIONS": "", "AGORA_METRICS_ADDR": "", "PORT": ""}
	set := func(over map[string]string) {
		for k, v := range secure {
			t.Setenv(k, v)
		}
		for k, v := range over {
			t.Setenv(k, v)
		}
	}
	set(nil)
	c, err := Load()
	if err != nil {
		t.Fatalf("a secure production configuration: %v", err)
	}
	if c.GraphiQL || c.Introspection || c.FieldSuggestions || len(c.Exposed()) != 0 {
		t.Fatalf("production exposes the schema by default: %+v", c)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AGORA_JWT_SECRET": ""}, "AGORA_JWT_SECRET: required in production"},
		{map[string]string{"AGORA_JWT_SECRET": "short"}, "AGORA_JWT_SECRET: want at least 32 bytes"},
		{map[string]string{"AGORA_JWT_PREVIOUS_SECRETS": "old"}, "AGORA_JWT_PREVIOUS_SECRETS: each key must be at least 32 bytes"},
		{map[string]string{"AGORA_CSRF_PREVENTION": "false"}, "AGORA_CSRF_PREVENTION=false is refused in production"},
		{map[string]string{"AGORA_ALLOWED_ORIGINS": "app.example.com,*"}, `AGORA_ALLOWED_ORIGINS: "*" matches every site, refused in production`},
		{map[string]string{"AGORA_ALLOWED_ORIGINS": "*.*"}, `AGORA_ALLOWED_ORIGINS: "*.*" matches every site`},
		{map[string]string{"AGORA_METRICS_ADDR": ":8080"}, "AGORA_METRICS_ADDR: must differ from PORT"},
	} {
		set(tc.env)
		if _, err := Load(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: want %q, got %v", tc.env, tc.want, err)
		}
	}
	set(map[string]string{"AGORA_GRAPHIQL": "true", "AGORA_INTROSPECTION": "true"})
	c, err = Load()
	if err != nil || !c.GraphiQL || !c.Introspection || !slices.Equal(c.Exposed(), []string{"AGORA_GRAPHIQL", "AGORA_INTROSPECTION"}) {
		t.Fatalf("explicit opt-in: %v %v", c.Exposed(), err)
	}
	// The same settings are fine in development.
	set(map[string]string{"AGORA_ENV": "development", "AGORA_JWT_SECRET": "", "AGORA_CSRF_PREVENTION": "false", "AGORA_ALLOWED_ORIGINS": "*"})
	if _, err := Load(); err != nil {
		t.Fatalf("development: %v", err)
	}
}

// TestStringMasksSecrets: the start-up log line shows neither JWT key nor a URL's password.
func TestStringMasksSecrets(t *testing.T) {
	c := Config{JWTSecret: "jwt-secret-value-0123456789abcdef", JWTPrevious: []string{"previous-secret-value-0123456789"},
		DatabaseURL: "postgres://agora:pg-pass@db:5432/agora?sslmode=require&sslpassword=ssl-pass",
		RedisURL:    "rediss://default:redis-pass@cache:6380/0"}
	s := c.String()
	for _, secret := range []string{"jwt-secret-value", "previous-secret-value", "pg-pass", "ssl-pass", "redis-pass"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s printed: %s", secret, s)
		}
	}
	for _, shown := range []string{"jwt_secret=(set)", "jwt_previous_secrets=1", "db:5432/agora", "cache:6380/0", "agora:xxxxx@"} {
		if !strings.Contains(s, shown) {
			t.Errorf("want %q in %s", shown, s)
		}
	}
}

// TestChannels: the channel budgets have their defaults, zero fields of a Config built in code
// mean those defaults, and nonsense is refused naming the variable.
func TestChannels(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, k := range []string{"AGORA_MAX_SOCKETS_PER_IP", "AGORA_MAX_SOCKETS_PER_USER", "AGORA_MAX_TOPIC_SUBSCRIBERS", "AGORA_APQ_MAX_BYTES",
		"AGORA_APQ_CACHE_BYTES", "AGORA_APQ_TTL", "AGORA_APQ_REGISTER_LIMIT", "AGORA_LOGIN_LIMIT_ACCOUNT_TOTAL", "AGORA_REDIS_MAX_WAIT"} {
		t.Setenv(k, "")
	}
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Channels != DefaultChannels || (Channels{}).WithDefaults() != DefaultChannels {
		t.Fatalf("defaults: %+v", c.Channels)
	}
	if got := (Channels{SocketsPerIP: 3}).WithDefaults(); got.SocketsPerIP != 3 || got.SocketsPerUser != DefaultChannels.SocketsPerUser {
		t.Fatalf("a field set in code: %+v", got)
	}
	t.Setenv("AGORA_MAX_SOCKETS_PER_IP", "0")
	t.Setenv("AGORA_APQ_CACHE_BYTES", "1000")
	t.Setenv("AGORA_REDIS_MAX_WAIT", "soon")
	_, err = Load()
	for _, want := range []string{"AGORA_MAX_SOCKETS_PER_IP", "AGORA_APQ_CACHE_BYTES", "AGORA_REDIS_MAX_WAIT"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error naming %s, got %v", want, err)
		}
	}
}
