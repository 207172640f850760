package config

import (
	"os"
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
