package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agora/agora/graph/server"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// sqliteAPI starts Agora on a fresh SQLite database with the configuration changed by configure.
func sqliteAPI(t *testing.T, configure func(*config.Config)) *api {
	t.Helper()
	db := openDB(t, database.Options{SQLitePath: t.TempDir() + "/agora.db"})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return startAPIWith(t, db, nil, configure)
}

// send makes a request to the API with a body and headers, and returns the response and its body.
func send(t *testing.T, method, u, body string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return httpSend(t, req)
}

var jsonHeaders = map[string]string{"Content-Type": "application/json"}

func queryBody(query string) string {
	b, _ := json.Marshal(map[string]any{"query": query})
	return string(b)
}

// wantRefusal checks a response is status with one error of code.
func wantRefusal(t *testing.T, what string, res *http.Response, body []byte, status int, code string) {
	t.Helper()
	var r testenv.Response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Errorf("%s: not JSON (%d): %s", what, res.StatusCode, body)
		return
	}
	if res.StatusCode != status || len(r.Errors) != 1 || r.Errors[0].Code() != code {
		t.Errorf("%s: want %d with one %s error, got %d %s", what, status, code, res.StatusCode, body)
	}
}

// TestHTTPSchemaExposure: introspection, field suggestions and GraphiQL are on in development;
// off (as in production by default) introspection is refused with INTROSPECTION_DISABLED, wherever
// it hides, errors stop suggesting names, GraphiQL is gone — and federation's _service still
// answers.
func TestHTTPSchemaExposure(t *testing.T) {
	t.Parallel()
	const introspection = `{ __schema { queryType { name } } }`
	const hidden = `query { ...F } fragment F on Query { __type(name: "User") { name } }`
	misspelt := []string{
		`{ postz(first: 1) { totalCount } }`,                                                 // field
		`{ posts(frist: 1) { totalCount } }`,                                                 // argument
		`{ posts(first: 1, orderBy: {field: CREATED_AT, direction: DESCC}) { totalCount } }`, // enum value
		`{ posts(first: 1, where: {authorUsernam: "a"}) { totalCount } }`,                    // input field
		"{ viewer { ...F } } fragment F on Usr { id }",                                       // type
		`{ viewer }`, // leaf selection
	}
	dev := newAPI(t, "sqlite")
	prod := sqliteAPI(t, func(c *config.Config) {
		c.GraphQL.Introspection, c.GraphQL.FieldSuggestions, c.GraphQL.GraphiQL = false, false, false
	})

	if r := dev.Post(t, introspection, nil); len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"Query"`) {
		t.Errorf("development: introspection: %s %+v", r.Data, r.Errors)
	}
	for _, q := range []string{introspection, hidden} {
		if r := prod.Post(t, q, nil); len(r.Errors) != 1 || r.Errors[0].Code() != "INTROSPECTION_DISABLED" {
			t.Errorf("production: %s: want INTROSPECTION_DISABLED, got %s %+v", q, r.Data, r.Errors)
		}
	}
	for _, q := range []string{`{ __typename }`, `{ _service { sdl } }`} {
		if r := prod.Post(t, q, nil); len(r.Errors) > 0 {
			t.Errorf("production: %s: %+v", q, r.Errors)
		}
	}
	for _, q := range misspelt {
		if r := dev.Post(t, q, nil); len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "Did you mean") {
			t.Errorf("development: %s: want a suggestion, got %+v", q, r.Errors)
		}
		r := prod.Post(t, q, nil)
		if len(r.Errors) == 0 {
			t.Errorf("production: %s: want an error", q)
		}
		for _, e := range r.Errors {
			if strings.Contains(e.Message, "Did you mean") || strings.Contains(e.Message, `"posts"`) {
				t.Errorf("production: %s: the error suggests names: %s", q, e.Message)
			}
		}
	}
	for _, tc := range []struct {
		a    *api
		want int
	}{{dev, http.StatusFound}, {prod, http.StatusNotFound}} {
		if res, _ := httpGet(t, tc.a.srv.URL+"/"); res.StatusCode != tc.want {
			t.Errorf("GraphiQL: want %d, got %d", tc.want, res.StatusCode)
		}
	}
}

// TestHTTPBodyLimit: bodies above AGORA_MAX_BODY_BYTES are answered 413 with PAYLOAD_TOO_LARGE,
// whether they announce their length or not.
func TestHTTPBodyLimit(t *testing.T) {
	t.Parallel()
	a := sqliteAPI(t, func(c *config.Config) { c.HTTP.MaxBodyBytes = 200 })
	small := queryBody(`{ __typename }`)
	large := queryBody(`{ __typename ` + strings.Repeat(" ", 200) + `}`)
	if res, body := send(t, http.MethodPost, a.URL, small, jsonHeaders); res.StatusCode != http.StatusOK {
		t.Errorf("small body: %d %s", res.StatusCode, body)
	}
	res, body := send(t, http.MethodPost, a.URL, large, jsonHeaders)
	wantRefusal(t, "large body", res, body, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
	// Without Content-Length (chunked): the limit holds while reading.
	req, _ := http.NewRequest(http.MethodPost, a.URL, io.MultiReader(strings.NewReader(large)))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	res, body = httpSend(t, req)
	wantRefusal(t, "large chunked body", res, body, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")

	// The default, 1 MiB.
	d := newAPI(t, "sqlite")
	res, body = send(t, http.MethodPost, d.URL, queryBody(`{ __typename }`+strings.Repeat(" ", 1<<20)), jsonHeaders)
	wantRefusal(t, "body over 1 MiB", res, body, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
}

// TestHTTPServerTimeouts: the server built from the configuration applies its timeouts: a client
// that never finishes its headers is disconnected.
func TestHTTPServerTimeouts(t *testing.T) {
	t.Parallel()
	// No read timeout: only the header timeout can end the connection below.
	srv := server.NewHTTPServer(config.HTTP{ReadHeaderTimeout: 50 * time.Millisecond, WriteTimeout: 2 * time.Second,
		IdleTimeout: 3 * time.Second}, http.NotFoundHandler())
	if srv.ReadTimeout != 0 || srv.WriteTimeout != 2*time.Second || srv.IdleTimeout != 3*time.Second {
		t.Fatalf("timeouts not applied: %+v", srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil { // and never the blank line
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // hang guard
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open")
	}
}

// lockUsers holds an exclusive lock on the users table until the test ends, so that any statement
// reading it waits.
func lockUsers(t *testing.T, db *database.DB) {
	t.Helper()
	tx, err := db.SQL.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	if _, err := tx.Exec(`LOCK TABLE users IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
}

// postGuarded posts a query that may block: if nothing cuts it short, the test fails instead of
// hanging (a hang guard, not a speed check).
func postGuarded(t *testing.T, a *api, query string) testenv.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, strings.NewReader(queryBody(query)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	_, body := httpSend(t, req)
	return decodeGraphQL(t, body)
}

// waitingOnLocks counts the statements of the database waiting for a lock.
func waitingOnLocks(t *testing.T, db *database.DB) int {
	t.Helper()
	var n int
	if err := db.SQL.QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHTTPOperationTimeout: an operation past AGORA_OPERATION_TIMEOUT answers TIMEOUT, and its
// SQL is cancelled on the PostgreSQL server, not merely abandoned: the statement, blocked on a lock
// that is never released while the test runs, stops waiting.
func TestHTTPOperationTimeout(t *testing.T) {
	t.Parallel()
	db := openDB(t, database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 4})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPIWith(t, db, nil, func(c *config.Config) { c.GraphQL.OperationTimeout = 100 * time.Millisecond })
	lockUsers(t, db)
	r := postGuarded(t, a, `{ users(first: 1) { totalCount } }`)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "TIMEOUT" {
		t.Fatalf("want one TIMEOUT error, got %s %+v", r.Data, r.Errors)
	}
	for start := time.Now(); waitingOnLocks(t, db) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 10*time.Second { // hang guard: an abandoned statement waits for ever
			t.Fatal("the timed-out statement is still waiting on the server")
		}
	}
}

// TestHTTPClientHangsUp: when the client hangs up mid-operation, its SQL is cancelled on the
// PostgreSQL server, and the operation counts as cancelled (CANCELLED), not as the server's failure.
func TestHTTPClientHangsUp(t *testing.T) {
	t.Parallel()
	db := openDB(t, database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 4})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, db, nil)
	lockUsers(t, db)
	ctx, hangUp := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, strings.NewReader(queryBody(`query Hangs { users(first: 1) { totalCount } }`)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sent := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		sent <- err
	}()
	for start := time.Now(); waitingOnLocks(t, db) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 10*time.Second { // hang guard
			t.Fatal("the operation's statement never waited on the lock")
		}
	}
	hangUp()
	if err := <-sent; !errors.Is(err, context.Canceled) {
		t.Fatalf("the client's request ended with %v, want it cancelled", err)
	}
	for start := time.Now(); waitingOnLocks(t, db) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 10*time.Second { // hang guard: an abandoned statement waits for ever
			t.Fatal("the statement of the operation the client left is still waiting on the server")
		}
	}
	// The server finishes the operation after the client has gone; the metrics follow.
	cancelled := `agora_graphql_requests_total{operation="Hangs",outcome="cancelled",type="query"}`
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		s := testenv.Scrape(t, a.srv.URL+"/metrics")
		if s[cancelled] == 1 {
			if s[`agora_graphql_errors_total{code="CANCELLED"}`] != 1 || s[`agora_graphql_requests_total{operation="Hangs",outcome="server_error",type="query"}`] != 0 ||
				s[`agora_graphql_errors_total{code="SERVICE_UNAVAILABLE"}`] != 0 || s[`agora_graphql_errors_total{code="INTERNAL_SERVER_ERROR"}`] != 0 {
				t.Fatalf("the operation the client left counted as the server's failure: %v", s)
			}
			break
		}
		if time.Since(start) > 10*time.Second { // hang guard
			t.Fatalf("no %s: %v", cancelled, s)
		}
	}
}

// TestHTTPStatementTimeout: the pool's connections carry AGORA_STATEMENT_TIMEOUT, and a statement
// the server cancels for it answers TIMEOUT.
func TestHTTPStatementTimeout(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	// Migrated without the timeout: on a busy machine a migration may take longer than 50 ms.
	if _, err := openDB(t, database.Options{PostgresURL: url}).Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, database.Options{PostgresURL: url, MaxConns: 4, StatementTimeout: 50 * time.Millisecond})
	var setting string
	if err := db.SQL.QueryRow(`SHOW statement_timeout`).Scan(&setting); err != nil || setting != "50ms" {
		t.Fatalf("statement_timeout %q, %v", setting, err)
	}
	a := startAPI(t, db, nil) // the operation deadline (15 s) is far
	lockUsers(t, db)
	r := postGuarded(t, a, `{ users(first: 1) { totalCount } }`)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "TIMEOUT" || strings.Contains(r.Errors[0].Message, "statement") {
		t.Fatalf("want one TIMEOUT error, without the driver's words, got %s %+v", r.Data, r.Errors)
	}
}

// TestHTTPBatching: a JSON array of operations is refused with BATCHING_DISABLED by default; with
// AGORA_BATCH_MAX it runs each operation on its own, and a larger batch is BATCH_TOO_LARGE.
func TestHTTPBatching(t *testing.T) {
	t.Parallel()
	batch := func(n int) string {
		ops := make([]map[string]any, n)
		for i := range ops {
			ops[i] = map[string]any{"query": `{ __typename }`}
		}
		ops[n-1] = map[string]any{"query": `{ nope }`}
		b, _ := json.Marshal(ops)
		return string(b)
	}
	res, body := send(t, http.MethodPost, newAPI(t, "sqlite").URL, batch(2), jsonHeaders)
	wantRefusal(t, "batching off", res, body, http.StatusBadRequest, "BATCHING_DISABLED")

	a := sqliteAPI(t, func(c *config.Config) { c.HTTP.MaxBatch = 3 })
	res, body = send(t, http.MethodPost, a.URL, batch(3), jsonHeaders)
	var out []testenv.Response
	if err := json.Unmarshal(body, &out); err != nil || res.StatusCode != http.StatusOK || len(out) != 3 {
		t.Fatalf("batch of 3: %d %s", res.StatusCode, body)
	}
	if string(out[0].Data) != `{"__typename":"Query"}` || len(out[2].Errors) != 1 || out[2].Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("each operation answers for itself: %s", body)
	}
	res, body = send(t, http.MethodPost, a.URL, batch(4), jsonHeaders)
	wantRefusal(t, "batch of 4", res, body, http.StatusBadRequest, "BATCH_TOO_LARGE")
}

// TestHTTPCORS: pages of the hosts in AGORA_ALLOWED_ORIGINS get their preflights answered and may
// read responses, without credentials (there is no cookie to send unless AGORA_REFRESH_COOKIE:
// TestRefreshCookie); other origins get no CORS headers and their preflights 403.
func TestHTTPCORS(t *testing.T) {
	t.Parallel()
	a := sqliteAPI(t, func(c *config.Config) { c.HTTP.AllowedOrigins = []string{"app.example.com", "*.example.org"} })
	preflight := func(origin string) *http.Response {
		res, _ := send(t, http.MethodOptions, a.URL, "", map[string]string{"Origin": origin,
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization"})
		return res
	}
	for _, origin := range []string{"https://app.example.com", "https://eu.example.org"} {
		res := preflight(origin)
		h := res.Header
		if res.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin ||
			h.Get("Access-Control-Allow-Credentials") != "" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			h.Get("Access-Control-Allow-Headers") != "content-type, authorization" {
			t.Errorf("preflight from %s: %d %v", origin, res.StatusCode, h)
		}
		res, _ = send(t, http.MethodPost, a.URL, queryBody(`{ __typename }`), map[string]string{"Content-Type": "application/json", "Origin": origin})
		if res.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("POST from %s: %v", origin, res.Header)
		}
	}
	res := preflight("https://evil.example.net")
	if res.StatusCode != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", res.StatusCode, res.Header)
	}
	res, _ = send(t, http.MethodPost, a.URL, queryBody(`{ __typename }`), map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example.net"})
	if res.Header.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Origin") {
		t.Errorf("POST from another origin: %v", res.Header)
	}
}

// TestHTTPCSRF: requests a browser sends cross-site without a preflight are refused with 400 and
// CSRF_PREVENTED unless they carry a preflight-forcing header (Apollo Server's rule); with
// AGORA_CSRF_PREVENTION=false they pass.
func TestHTTPCSRF(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	get := a.URL + "?" + url.Values{"query": {`{ __typename }`}}.Encode()
	body := queryBody(`{ __typename }`)
	for _, tc := range []struct {
		name, method, u, body string
		headers               map[string]string
		refused               bool
	}{
		{"GET without headers", http.MethodGet, get, "", nil, true},
		{"GET with Apollo-Require-Preflight", http.MethodGet, get, "", map[string]string{"Apollo-Require-Preflight": "true"}, false},
		{"GET with X-Apollo-Operation-Name", http.MethodGet, get, "", map[string]string{"X-Apollo-Operation-Name": "Q"}, false},
		{"GET with an empty Apollo-Require-Preflight", http.MethodGet, get, "", map[string]string{"Apollo-Require-Preflight": ""}, true},
		{"GET with Content-Type application/json", http.MethodGet, get, "", jsonHeaders, false},
		{"POST text/plain", http.MethodPost, a.URL, body, map[string]string{"Content-Type": "text/plain"}, true},
		{"POST form", http.MethodPost, a.URL, "query=%7B__typename%7D", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, true},
		{"POST multipart", http.MethodPost, a.URL, "--x--", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, true},
		{"POST application/json", http.MethodPost, a.URL, body, jsonHeaders, false},
		{"POST application/json; charset=utf-8", http.MethodPost, a.URL, body, map[string]string{"Content-Type": "application/json; charset=utf-8"}, false},
	} {
		res, b := send(t, tc.method, tc.u, tc.body, tc.headers)
		if tc.refused {
			wantRefusal(t, tc.name, res, b, http.StatusBadRequest, "CSRF_PREVENTED")
		} else if res.StatusCode != http.StatusOK {
			t.Errorf("%s: want 200, got %d %s", tc.name, res.StatusCode, b)
		}
	}
	// A text/plain POST that forces a preflight passes the guard (and reaches gqlgen, which takes
	// only JSON).
	res, b := send(t, http.MethodPost, a.URL, body, map[string]string{"Content-Type": "text/plain", "Apollo-Require-Preflight": "1"})
	if strings.Contains(string(b), "CSRF_PREVENTED") {
		t.Errorf("text/plain with Apollo-Require-Preflight: %d %s", res.StatusCode, b)
	}

	off := sqliteAPI(t, func(c *config.Config) { c.HTTP.CSRFPrevention = false })
	if res, b := send(t, http.MethodGet, off.URL+"?"+url.Values{"query": {`{ __typename }`}}.Encode(), "", nil); res.StatusCode != http.StatusOK {
		t.Errorf("CSRF prevention off: GET without headers: %d %s", res.StatusCode, b)
	}
}

// TestHTTPCompression: responses from AGORA_COMPRESS_MIN_BYTES on are gzipped for clients that
// accept it; small ones, clients that do not, and event streams are not; 0 turns it off. A JSON
// answer that is not gzipped carries its length.
func TestHTTPCompression(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	const large = `{ __schema { types { name fields { name } } } }`
	gz := map[string]string{"Content-Type": "application/json", "Accept-Encoding": "gzip"}
	res, body := send(t, http.MethodPost, a.URL, queryBody(large), gz)
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("large answer: Content-Encoding %q, Vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !json.Valid(plain) || !strings.Contains(string(plain), `"__schema"`) {
		t.Fatalf("gunzipped: %v %.200s", err, plain)
	}
	t.Logf("introspection answer: %d bytes, %d gzipped", len(plain), len(body))
	if res.ContentLength != -1 && res.ContentLength != int64(len(body)) { // never the plain length
		t.Errorf("gzipped answer of %d bytes: Content-Length %d", len(body), res.ContentLength)
	}

	for _, tc := range []struct {
		name, query string
		headers     map[string]string
	}{
		{"small answer", `{ __typename }`, gz},
		{"no Accept-Encoding", large, map[string]string{"Content-Type": "application/json", "Accept-Encoding": "identity"}},
		{"gzip;q=0", large, map[string]string{"Content-Type": "application/json", "Accept-Encoding": "gzip;q=0"}},
		{"event stream", large, map[string]string{"Content-Type": "application/json", "Accept-Encoding": "gzip", "Accept": "text/event-stream"}},
	} {
		res, body := send(t, http.MethodPost, a.URL, queryBody(tc.query), tc.headers)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "" || !strings.Contains(string(body), "__") {
			t.Errorf("%s: %d Content-Encoding %q %.100s", tc.name, res.StatusCode, res.Header.Get("Content-Encoding"), body)
		}
		// A whole JSON answer is sent with its length, not chunked.
		if tc.headers["Accept"] == "" && res.ContentLength != int64(len(body)) {
			t.Errorf("%s: Content-Length %d for %d bytes", tc.name, res.ContentLength, len(body))
		}
	}
	off := sqliteAPI(t, func(c *config.Config) { c.HTTP.CompressMinBytes = 0 })
	if res, _ := send(t, http.MethodPost, off.URL, queryBody(large), gz); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("compression off: Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
}
