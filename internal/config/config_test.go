package config

import (
	"fmt"
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
	r := c.RateLimits
	if c.HTTP.Addr != ":8080" || c.Database.SQLitePath != "agora.db" || !c.Database.AutoMigrate || c.Auth.AccessTokenTTL != 15*time.Minute || c.Production() ||
		r.RequestsPerIP.String() != "600/1m" || r.RequestsPerUser.String() != "1200/1m" || r.SignUpsPerIP.String() != "10/1h" || r.MessagesPerUser.String() != "30/1m" ||
		c.HTTP.ShutdownGrace != 15*time.Second {
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
	if c.LogLevel != "warn" || c.Auth.TokenIssuer != "my issuer # not a comment" || c.HTTP.Addr != ":7777" {
		t.Fatalf("from .env: log level %q, issuer %q, addr %q", c.LogLevel, c.Auth.TokenIssuer, c.HTTP.Addr)
	}
}

// TestExposureAndHTTPDefaults: introspection, suggestions and GraphiQL follow AGORA_ENV unless set;
// the HTTP limits have their documented defaults.
func TestExposureAndHTTPDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, k := range []string{"AGORA_INTROSPECTION", "AGORA_FIELD_SUGGESTIONS", "AGORA_GRAPHIQL", "AGORA_MAX_BODY_BYTES",
		"AGORA_OPERATION_TIMEOUT", "AGORA_STATEMENT_TIMEOUT", "AGORA_BATCH_MAX", "AGORA_CSRF_PREVENTION", "AGORA_COMPRESS_MIN_BYTES",
		"AGORA_READ_HEADER_TIMEOUT", "AGORA_READ_TIMEOUT", "AGORA_WRITE_TIMEOUT", "AGORA_IDLE_TIMEOUT", "AGORA_TRUSTED_DOCUMENTS", "AGORA_HEAP_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AGORA_JWT_SECRET", strings.Repeat("s", 32))
	t.Setenv("AGORA_ENV", "development")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !c.GraphQL.Introspection || !c.GraphQL.FieldSuggestions || !c.GraphQL.GraphiQL {
		t.Errorf("development: want introspection, suggestions and GraphiQL on: %+v", c)
	}
	h := c.HTTP
	if h.MaxBodyBytes != 1<<20 || c.GraphQL.OperationTimeout != 15*time.Second || c.Database.StatementTimeout != 30*time.Second || h.MaxBatch != 0 ||
		!h.CSRFPrevention || h.CompressMinBytes != 1024 || h.ReadHeaderTimeout != 10*time.Second || h.ReadTimeout != 30*time.Second ||
		h.WriteTimeout != 60*time.Second || h.IdleTimeout != 120*time.Second || c.GraphQL.TrustedDocuments != "" || h.HeapProfile {
		t.Errorf("HTTP defaults: %+v", c)
	}
	t.Setenv("AGORA_ENV", "production")
	if c, err = Load(); err != nil || c.GraphQL.Introspection || c.GraphQL.FieldSuggestions || c.GraphQL.GraphiQL {
		t.Errorf("production: want them off: %v %+v", err, c)
	}
	t.Setenv("AGORA_INTROSPECTION", "true")
	t.Setenv("AGORA_GRAPHIQL", "true")
	if c, err = Load(); err != nil || !c.GraphQL.Introspection || c.GraphQL.FieldSuggestions || !c.GraphQL.GraphiQL {
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
	for _, name := range []string{"config.go", "channels.go", "identity.go", "media.go", "payments.go"} {
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
	if c.GraphQL.GraphiQL || c.GraphQL.Introspection || c.GraphQL.FieldSuggestions || len(c.Exposed()) != 0 {
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
	if err != nil || !c.GraphQL.GraphiQL || !c.GraphQL.Introspection || !slices.Equal(c.Exposed(), []string{"AGORA_GRAPHIQL", "AGORA_INTROSPECTION"}) {
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
	c := Config{Auth: Auth{JWTSecret: "jwt-secret-value-0123456789abcdef", JWTPreviousSecrets: []string{"previous-secret-value-0123456789"}},
		Database: Database{URL: "postgres://agora:pg-pass@db:5432/agora?sslmode=require&sslpassword=ssl-pass"},
		Redis:    Redis{URL: "rediss://default:redis-pass@cache:6380/0"}}
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

// TestDefaults: with no variable set, Load gives Defaults, the one place defaults are written.
func TestDefaults(t *testing.T) {
	source, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // no .env
	for _, m := range regexp.MustCompile(`"((?:AGORA_|DATABASE_URL|REDIS_URL|PORT)[A-Z_]*)"`).FindAllSubmatch(source, -1) {
		t.Setenv(string(m[1]), "")
	}
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Defaults()) {
		t.Fatalf("Load without variables:\n%+v\nDefaults:\n%+v", c, Defaults())
	}
}

// TestBudget: rate budgets are parsed when the configuration is read, printed as they are written,
// and a malformed one is refused naming its variable.
func TestBudget(t *testing.T) {
	for _, s := range []string{"10/15m", "600/1m", "10/1h", "5/1h30m", "3/90s", "1/10s"} {
		b, err := ParseBudget(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if want, _ := time.ParseDuration(s[strings.Index(s, "/")+1:]); b.Per != want || b.String() != strings.Replace(s, "90s", "1m30s", 1) {
			t.Errorf("%s: parsed %+v, printed %s", s, b, b)
		}
	}
	for _, s := range []string{"", "10", "x/1m", "0/1m", "10/0s", "10/soon", "-1/1m"} {
		if _, err := ParseBudget(s); err == nil {
			t.Errorf("%q: want an error", s)
		}
	}
	t.Chdir(t.TempDir())
	t.Setenv("AGORA_RATE_LIMIT_SEARCH", "often")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), `AGORA_RATE_LIMIT_SEARCH: want N/duration like 10/15m, got "often"`) {
		t.Errorf("a malformed budget: %v", err)
	}
}

// TestMail: the mail settings' defaults, their validation (each error naming its variable) and
// the SMTP password kept out of the start-up line.
func TestMail(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, k := range []string{"AGORA_ENV", "AGORA_JWT_SECRET", "SMTP_URL", "MAIL_FROM", "AGORA_MAIL_DIR", "AGORA_BASE_URL"} {
		t.Setenv(k, "")
	}
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Mail.SMTPURL != "" || c.Mail.From != "Agora <no-reply@localhost>" || c.Mail.Dir != "mail" || c.Mail.BaseURL != "http://localhost:8080" {
		t.Fatalf("mail defaults: smtp %q from %q dir %q base %q", c.Mail.SMTPURL, c.Mail.From, c.Mail.Dir, c.Mail.BaseURL)
	}
	if s := c.String(); !strings.Contains(s, "mail=folder:mail") || !strings.Contains(s, "base_url=http://localhost:8080") {
		t.Errorf("want the mail folder and base URL in %s", s)
	}

	t.Setenv("SMTP_URL", "smtps://mailer:smtp-pass-123@smtp.example.com:465")
	t.Setenv("AGORA_BASE_URL", "https://agora.example.com/app/")
	if c, err = Load(); err != nil {
		t.Fatal(err)
	}
	if c.Mail.BaseURL != "https://agora.example.com/app" {
		t.Errorf("base URL: want the trailing slash trimmed, got %q", c.Mail.BaseURL)
	}
	s := c.String()
	if strings.Contains(s, "smtp-pass-123") || !strings.Contains(s, "mail=smtps://mailer:xxxxx@smtp.example.com:465") {
		t.Errorf("SMTP_URL not masked: %s", s)
	}

	for _, tc := range []struct {
		name, value, want string
	}{
		{"SMTP_URL", "http://smtp.example.com", `SMTP_URL: want an smtp:// (STARTTLS) or smtps:// (implicit TLS) URL, got scheme "http"`},
		{"SMTP_URL", "smtp://smtp.example.com?tls=maybe", `SMTP_URL: tls= wants mandatory, opportunistic or none, got "maybe"`},
		{"SMTP_URL", "smtp://u:p@:587", "SMTP_URL: want scheme://"},
		{"MAIL_FROM", "Agora", "MAIL_FROM: want one address"},
		{"MAIL_FROM", "a@example.com, b@example.com", "MAIL_FROM: want one address"},
		{"AGORA_BASE_URL", "agora.example.com", "AGORA_BASE_URL: want an http:// or https:// address"},
		{"AGORA_BASE_URL", "https://agora.example.com/?x=1", "AGORA_BASE_URL: want an http:// or https:// address"},
	} {
		t.Setenv(tc.name, tc.value)
		_, err := Load()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: want %q, got %v", tc.name, tc.value, tc.want, err)
		}
		t.Setenv(tc.name, "")
	}

	// Production: clear-text SMTP only to a relay on this machine.
	t.Setenv("AGORA_ENV", "production")
	t.Setenv("AGORA_JWT_SECRET", strings.Repeat("k", 32))
	for _, tc := range []struct {
		url  string
		want string // "" = accepted
	}{
		{"smtp://u:p@smtp.example.com:587", ""},
		{"smtps://u:p@smtp.example.com", ""},
		{"smtp://localhost:25?tls=none", ""},
		{"smtp://127.0.0.1:25?tls=opportunistic", ""},
		{"smtp://u:p@smtp.example.com:587?tls=none", "SMTP_URL: tls=none to smtp.example.com is refused in production"},
		{"smtp://u:p@10.0.0.5:25?tls=opportunistic", "SMTP_URL: tls=opportunistic to 10.0.0.5 is refused in production"},
	} {
		t.Setenv("SMTP_URL", tc.url)
		_, err := Load()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("production, SMTP_URL=%s: want %q, got %v", tc.url, tc.want, err)
		}
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want SMTPServer
		err  string
	}{
		{url: "smtp://smtp.example.com", want: SMTPServer{Host: "smtp.example.com", Port: 587, TLS: TLSMandatory, Timeout: 30 * time.Second}},
		{url: "smtp://agora:s%40cret@smtp.example.com:2525?tls=opportunistic&timeout=5s",
			want: SMTPServer{Host: "smtp.example.com", Port: 2525, TLS: TLSOpportunistic, Username: "agora", Password: "s@cret", Timeout: 5 * time.Second}},
		{url: "smtp://[::1]:1025?tls=none", want: SMTPServer{Host: "::1", Port: 1025, TLS: TLSNone, Timeout: 30 * time.Second}},
		{url: "smtps://agora:pw@smtp.example.com", want: SMTPServer{Host: "smtp.example.com", Port: 465, Implicit: true, TLS: TLSMandatory, Username: "agora", Password: "pw", Timeout: 30 * time.Second}},
		{url: "smtps://smtp.example.com?tls=none", err: "smtps:// is always TLS"},
		{url: "smtp://smtp.example.com:0", err: `bad port "0"`},
		{url: "smtp://smtp.example.com:99999", err: `bad port "99999"`},
		{url: "smtp://smtp.example.com?timeout=-1s", err: "timeout= wants a positive duration"},
		{url: "smtp://smtp.example.com?tls_mode=none", err: `unknown parameter "tls_mode"`},
		{url: "smtp://smtp.example.com/some/path", err: "want scheme://"},
		{url: "smtp://:pw@smtp.example.com", err: "no user name"},
		{url: "mailto:someone@example.com", err: `got scheme "mailto"`},
		{url: "smtp://user:p%zzw@smtp.example.com", err: "SMTP_URL: cannot parse the URL"},
	} {
		got, err := ParseSMTPURL(tc.url)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: want error %q, got %v (%+v)", tc.url, tc.err, err, got)
		case tc.err != "" && strings.Contains(err.Error(), "zzw"):
			t.Errorf("%s: the error shows the password: %v", tc.url, err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %#v, %v; want %#v", tc.url, got, err, tc.want)
		}
	}
	s, err := ParseSMTPURL("smtp://agora:hidden-pw@smtp.example.com")
	if err != nil || strings.Contains(fmt.Sprint(s), "hidden-pw") || strings.Contains(fmt.Sprintf("%+v", s), "hidden-pw") {
		t.Errorf("SMTPServer printed with its password: %v %+v", s, err)
	}
}

// TestChannels: the channel budgets have their defaults and nonsense is refused naming the
// variable.
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
	if c.Channels != Defaults().Channels {
		t.Fatalf("defaults: %+v", c.Channels)
	}
	t.Setenv("AGORA_MAX_SOCKETS_PER_IP", "0")
	t.Setenv("AGORA_APQ_CACHE_BYTES", "1000")
	t.Setenv("AGORA_REDIS_MAX_WAIT", "soon")
	t.Setenv("AGORA_LOGIN_LIMIT_ACCOUNT_TOTAL", "often")
	_, err = Load()
	for _, want := range []string{"AGORA_MAX_SOCKETS_PER_IP", "AGORA_APQ_CACHE_BYTES", "AGORA_REDIS_MAX_WAIT", "AGORA_LOGIN_LIMIT_ACCOUNT_TOTAL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error naming %s, got %v", want, err)
		}
	}
}

// TestOriginPatterns: a pattern no page's Origin can match is reported at start with what is
// wrong; both host:port and scheme://host:port forms are fine.
func TestOriginPatterns(t *testing.T) {
	for _, ok := range []string{"localhost:5173", "http://localhost:5173", "https://app.example.com", "app.example.com",
		"*.example.org", "https://*.example.org", "localhost:*", "127.0.0.1:*", "http*://localhost:3000", `\[::1\]:5173`} {
		if p := OriginPatternProblems([]string{ok}); len(p) != 0 {
			t.Errorf("%s: %v", ok, p)
		}
	}
	for pattern, want := range map[string]string{
		"http://localhost:5173/":       "no trailing slash: write http://localhost:5173",
		"https://app.example.com/app":  "no path, query or fragment",
		"localhost:5173/":              "no trailing slash",
		"[a-":                          "not a valid pattern",
		"ftp://files.example.com":      `not "ftp"`,
		"https://app.example.com:443":  "write https://app.example.com",
		"http://localhost:80":          "write http://localhost",
		"localhost:http":               `"http" is not a port`,
		"localhost:99999":              `"99999" is not a port`,
		"http//localhost:5173":         "write the scheme as http://",
		"https://":                     "names no host",
		"https://user@app.example.com": "no user name",
		"http://[::1]:5173":            "brackets are pattern syntax",
		"localhost:":                   "the port is empty",
		"'https://app.example.com'":    "spaces or quotes",
	} {
		p := OriginPatternProblems([]string{"app.example.com", pattern})
		if len(p) != 1 || !strings.Contains(p[0], want) || !strings.Contains(p[0], "AGORA_ALLOWED_ORIGINS") {
			t.Errorf("%s: want one problem saying %q, got %q", pattern, want, p)
		}
	}
}

// TestWarnings: production warns about an embedded SQLite database and about /metrics on the
// public port; development about neither; both about origin patterns that never match.
func TestWarnings(t *testing.T) {
	c := Defaults()
	if w := c.Warnings(); len(w) != 0 {
		t.Fatalf("development defaults: %v", w)
	}
	c.HTTP.AllowedOrigins = []string{"http://localhost:5173/"}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "trailing slash") {
		t.Fatalf("a bad origin pattern: %v", w)
	}
	c = Defaults()
	c.Env = "production"
	w := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{"embedded SQLite", "DATABASE_URL", "/metrics on the public port", "AGORA_METRICS_ADDR"} {
		if !strings.Contains(w, want) {
			t.Errorf("production warnings lack %q:\n%s", want, w)
		}
	}
	c.Database.URL, c.HTTP.MetricsAddr, c.HTTP.HeapProfile = "postgres://db/agora", ":9090", true
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("production on PostgreSQL with AGORA_METRICS_ADDR and AGORA_HEAP_PROFILE: %v", w)
	}
	c.HTTP.MetricsAddr = ""
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "AGORA_HEAP_PROFILE samples allocations, but only AGORA_METRICS_ADDR serves") {
		t.Errorf("heap sampling with no profile served: %v", w)
	}
}

// TestErrorsSayWhatIsExpected: a value that does not parse gets an error naming the variable and
// what it wants, with an example; out-of-range ports are refused before anything listens.
func TestErrorsSayWhatIsExpected(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct{ key, value, want string }{
		{"AGORA_ACCESS_TOKEN_TTL", "15", `AGORA_ACCESS_TOKEN_TTL: want a duration such as 15m (a number with a unit: ms, s, m or h), got "15"`},
		{"AGORA_SESSION_TTL", "30d", `want a duration such as 720h`},
		{"AGORA_READ_TIMEOUT", "30", `want a duration such as 30s`},
		{"AGORA_AUTO_MIGRATE", "yes please", `AGORA_AUTO_MIGRATE: want true or false, got "yes please"`},
		{"AGORA_DB_MAX_CONNS", "many", `AGORA_DB_MAX_CONNS: want a whole number such as 20, got "many"`},
		{"PORT", "99999", `PORT: want a port number from 1 to 65535, got "99999"`},
		{"PORT", "http", `PORT: want a port number from 1 to 65535, got "http"`},
		{"AGORA_METRICS_ADDR", "9090", `AGORA_METRICS_ADDR: want an address such as :9090`},
		{"AGORA_TRUSTED_PROXIES", "10.0.0.0/8,lb", `AGORA_TRUSTED_PROXIES: want comma-separated CIDRs or addresses such as 10.0.0.0/8,192.168.1.10, got "lb"`},
		{"AGORA_PROXY_HEADER", "X-Real-IP", `AGORA_PROXY_HEADER: want X-Forwarded-For or Forwarded, got "X-Real-Ip"`},
		{"AGORA_REFRESH_GRACE", "1h", `AGORA_REFRESH_GRACE: want a duration from 0s to 1m`},
		{"AGORA_MEDIA_SHARED_MAX_AGE", "-1m", `AGORA_MEDIA_SHARED_MAX_AGE: want whole seconds, 0 or more`},
		{"AGORA_MEDIA_SHARED_MAX_AGE", "1500ms", `AGORA_MEDIA_SHARED_MAX_AGE: want whole seconds, 0 or more`},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.key, tc.value)
			if _, err := Load(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want %q, got %v", tc.want, err)
			}
		})
	}
}

// TestSessionsAndProxies: the refresh cookie, its grace window and trusted proxies are read as
// written; the cookie needs CSRF prevention.
func TestSessionsAndProxies(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("AGORA_REFRESH_COOKIE", "true")
	t.Setenv("AGORA_REFRESH_GRACE", "5s")
	t.Setenv("AGORA_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.10 ,fd00::/8")
	t.Setenv("AGORA_PROXY_HEADER", "forwarded")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var proxies []string
	for _, p := range c.HTTP.TrustedProxies {
		proxies = append(proxies, p.String())
	}
	if !c.Auth.RefreshCookie || c.Auth.RefreshGrace != 5*time.Second || strings.Join(proxies, ",") != "10.0.0.0/8,192.168.1.10/32,fd00::/8" || c.HTTP.ProxyHeader != "Forwarded" {
		t.Fatalf("read %+v %+v", c.Auth, c.HTTP)
	}
	if s := c.String(); !strings.Contains(s, "refresh_cookie=true refresh_grace=5s") || !strings.Contains(s, `trusted_proxies="10.0.0.0/8,192.168.1.10/32,fd00::/8" proxy_header=Forwarded`) {
		t.Errorf("String: %s", s)
	}
	t.Setenv("AGORA_CSRF_PREVENTION", "false")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "AGORA_REFRESH_COOKIE=true needs AGORA_CSRF_PREVENTION=true") {
		t.Errorf("the cookie without CSRF prevention: %v", err)
	}
}

// TestLocalOriginsInDevelopment: development lets pages on local ports call the API unless
// AGORA_ALLOWED_ORIGINS says otherwise; production allows no other origin by default.
func TestLocalOriginsInDevelopment(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("AGORA_ALLOWED_ORIGINS", "")
	t.Setenv("AGORA_ENV", "development")
	c, err := Load()
	if err != nil || !slices.Equal(c.HTTP.AllowedOrigins, []string{"localhost:*", "127.0.0.1:*"}) {
		t.Fatalf("development: %v %v", c.HTTP.AllowedOrigins, err)
	}
	t.Setenv("AGORA_ALLOWED_ORIGINS", "http://localhost:5173")
	if c, err = Load(); err != nil || !slices.Equal(c.HTTP.AllowedOrigins, []string{"http://localhost:5173"}) {
		t.Fatalf("set: %v %v", c.HTTP.AllowedOrigins, err)
	}
	t.Setenv("AGORA_ALLOWED_ORIGINS", "")
	t.Setenv("AGORA_ENV", "production")
	t.Setenv("AGORA_JWT_SECRET", strings.Repeat("k", 32))
	if c, err = Load(); err != nil || len(c.HTTP.AllowedOrigins) != 0 {
		t.Fatalf("production: %v %v", c.HTTP.AllowedOrigins, err)
	}
}

func TestPaymentsSettings(t *testing.T) {
	t.Chdir(t.TempDir()) // no .env
	t.Setenv("STRIPE_SECRET_KEY", "sk_test_x")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "STRIPE_WEBHOOK_SECRET") {
		t.Fatalf("a secret key without the webhook secret: %v", err)
	}
	t.Setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
	c, err := Load()
	if err != nil || !c.Payments.Enabled() || c.Payments.APIBase != "https://api.stripe.com" {
		t.Fatalf("both set: %+v %v", c.Payments, err)
	}
	if s := c.String(); strings.Contains(s, "sk_test_x") || strings.Contains(s, "whsec_x") {
		t.Fatalf("a Stripe secret in the printed configuration: %s", s)
	}
}
