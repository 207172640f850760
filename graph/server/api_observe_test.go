package server_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// namedFeedPage is the feed page as the SPA names it.
var namedFeedPage = strings.Replace(feedPage, "query(", "query FeedPage(", 1)

// A router's trace context: the caller's trace and span.
const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

// postRaw sends body to /graphql with the caller's trace context and requestID, signed in with
// token when set, and returns the response body.
func postRaw(t *testing.T, a *api, token, requestID string, body any) json.RawMessage {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	req.Header.Set("X-Request-ID", requestID)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return raw
}

// waitFor polls until found says yes; the deadline only guards against a hang (spans and log lines
// are written when the handler returns, which can be just after the client has the response).
func waitFor(t *testing.T, what string, found func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !found(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s", what)
		}
	}
}

func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestTraces: a feed page on PostgreSQL and Redis, called with a router's traceparent, yields one
// trace below the caller's span: the HTTP server span, the GraphQL operation inside it, loader
// batches, SQL statements (text without arguments) and Redis commands inside the operation; and
// errors carry the trace ID.
func TestTraces(t *testing.T) {
	rdb := newRedis(t)
	db := openDB(t, database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10})
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	a := serveApp(t, testConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), db, rdb, tp)

	reader := a.register(t, "reader")
	authors := []user{a.register(t, "author0"), a.register(t, "author1")}
	for _, au := range authors {
		a.as(reader).Do(t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": au.ID}, nil)
	}
	seedFeed(t, a, authors, reader, 5)
	a.settle(t) // the follows' notification jobs publish in traces of their own: before the page

	// Each attempt of a job is a span of its own, linked to the request that inserted the job.
	requests := map[string]bool{}
	var work sdktrace.ReadOnlySpan
	waitFor(t, "the span of a notice's job", func() bool {
		for _, s := range spans.GetSpans().Snapshots() {
			if s.Name() == "POST /graphql" {
				requests[s.SpanContext().TraceID().String()] = true
			}
			if s.Name() == "river.work/notify" {
				work = s
			}
		}
		return work != nil
	})
	if links := work.Links(); len(links) != 1 || !requests[links[0].SpanContext.TraceID().String()] {
		t.Errorf("the job's span links %+v, want the trace of the request that inserted it", links)
	}

	spans.Reset()
	var page struct {
		Data   struct{ Feed struct{ TotalCount int } }
		Errors []any
	}
	raw := postRaw(t, a, reader.Token, "trace-test", map[string]any{"query": namedFeedPage, "variables": map[string]any{"n": 5}})
	if err := json.Unmarshal(raw, &page); err != nil || len(page.Errors) > 0 || page.Data.Feed.TotalCount != 5 {
		t.Fatalf("feed page: %s", raw)
	}
	var server sdktrace.ReadOnlySpan
	waitFor(t, "HTTP server span", func() bool {
		for _, s := range spans.GetSpans().Snapshots() {
			if s.Name() == "POST /graphql" {
				server = s
				return true
			}
		}
		return false
	})
	if got := server.SpanContext().TraceID().String(); got != callerTrace {
		t.Fatalf("HTTP span in trace %s, want the caller's %s", got, callerTrace)
	}
	if got := server.Parent().SpanID().String(); got != callerSpan || !server.Parent().IsRemote() {
		t.Fatalf("HTTP span's parent %s (remote %v), want the caller's span %s", got, server.Parent().IsRemote(), callerSpan)
	}
	if v, _ := attr(server, "http.response.status_code"); v.AsInt64() != 200 {
		t.Fatalf("HTTP span status code %v", v.Emit())
	}

	all := spans.GetSpans().Snapshots()
	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range all {
		// go-redis's pool dials connections of its own accord too (replacing one it closed), on
		// a background context, and River's periodic jobs (RunOnStart) are inserted by its own
		// enqueuer, which may run during the request: each is a trace of its own, not part of it.
		background := (s.Name() == "redis.dial" || s.Name() == "river.insert_many") && !s.Parent().IsValid()
		if s.SpanContext().TraceID().String() != callerTrace && !background {
			t.Errorf("span %q in another trace (%s)", s.Name(), s.SpanContext().TraceID())
		}
		byID[s.SpanContext().SpanID().String()] = s
	}
	// below reports whether s descends from the span called ancestor.
	below := func(s sdktrace.ReadOnlySpan, ancestor string) bool {
		for p, ok := byID[s.Parent().SpanID().String()]; ok; p, ok = byID[p.Parent().SpanID().String()] {
			if p.Name() == ancestor {
				return true
			}
		}
		return false
	}
	var operation, batches, statements, commands int
	for _, s := range all {
		switch {
		case s.Name() == "query FeedPage":
			operation++
			if s.Parent().SpanID() != server.SpanContext().SpanID() {
				t.Errorf("operation span's parent is not the HTTP span")
			}
			if v, _ := attr(s, "graphql.operation.name"); v.AsString() != "FeedPage" {
				t.Errorf("operation span's name attribute %q", v.AsString())
			}
			if v, _ := attr(s, "graphql.operation.type"); v.AsString() != "query" {
				t.Errorf("operation span's type attribute %q", v.AsString())
			}
		case strings.HasPrefix(s.Name(), "loader "):
			if v, _ := attr(s, "loader.batch_size"); v.AsInt64() < 1 {
				t.Errorf("%s: batch size %d", s.Name(), v.AsInt64())
			}
			if below(s, "query FeedPage") {
				batches++
			}
		case strings.HasPrefix(s.Name(), "db "):
			system, _ := attr(s, "db.system")
			stmt, _ := attr(s, "db.statement")
			if system.AsString() != "postgresql" || !strings.Contains(stmt.AsString(), "$1") {
				t.Errorf("%s: db.system %q, db.statement %q: want postgresql and a statement with placeholders", s.Name(), system.AsString(), stmt.AsString())
			}
			if below(s, "query FeedPage") {
				statements++
			}
		default:
			if v, _ := attr(s, "db.system"); v.AsString() == "redis" && below(s, "query FeedPage") {
				commands++
			}
		}
	}
	t.Logf("%d spans: operation %d, loader batches %d, SQL statements %d, Redis commands %d inside the operation",
		len(all), operation, batches, statements, commands)
	if operation != 1 || batches == 0 || statements == 0 || commands == 0 {
		t.Fatalf("want one operation span with loader batches, SQL statements and Redis commands inside it")
	}

	// Errors name the trace to look up, and the operation's span records them.
	spans.Reset()
	var failed struct {
		Errors []struct{ Extensions map[string]any }
	}
	raw = postRaw(t, a, "", "trace-test-2", map[string]any{"query": `query Broken { noSuchField }`})
	if err := json.Unmarshal(raw, &failed); err != nil || len(failed.Errors) != 1 || failed.Errors[0].Extensions["traceId"] != callerTrace {
		t.Fatalf("want an error with extensions.traceId %s, got %s", callerTrace, raw)
	}
	waitFor(t, "span of the refused operation", func() bool {
		for _, s := range spans.GetSpans().Snapshots() {
			if s.Name() == "graphql" && s.Status().Code.String() == "Error" {
				return true
			}
		}
		return false
	})
}

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// line returns the first JSON log line whose fields match, or nil.
func (b *syncBuffer) line(match func(map[string]any) bool) (map[string]any, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(b.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && match(m) {
			return m, sc.Text()
		}
	}
	return nil, ""
}

// TestAccessLogLine: a request's one JSON log line holds its request ID, trace ID, status and
// duration, the operations it ran (a batch: each), the viewer's user ID and the codes of the
// errors answered, and no personal data: no username, email or token.
func TestAccessLogLine(t *testing.T) {
	db := openDB(t, database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")})
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cfg := testConfig()
	cfg.HTTP.MaxBatch = 3
	tp := sdktrace.NewTracerProvider() // records, exports nowhere
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	a := serveApp(t, cfg, slog.New(slog.NewJSONHandler(&logs, nil)), db, nil, tp)
	reader := a.register(t, "ada_lovelace")
	var viewerID int
	if err := db.SQL.QueryRow("SELECT id FROM users WHERE username = ?", "ada_lovelace").Scan(&viewerID); err != nil {
		t.Fatal(err)
	}

	postRaw(t, a, reader.Token, "log-test", []map[string]any{
		{"query": namedFeedPage, "variables": map[string]any{"n": 5}},
		{"query": `query Broken { noSuchField }`},
		{"query": `query Me { viewer { id } }`},
	})
	var line map[string]any
	var text string
	waitFor(t, "access log line of the request", func() bool {
		line, text = logs.line(func(m map[string]any) bool { return m["msg"] == "request" && m["request_id"] == "log-test" })
		return line != nil
	})
	t.Log(text)
	want := map[string]any{
		"method": "POST", "path": "/graphql", "status": float64(200), "trace_id": callerTrace,
		"operation": "query FeedPage,query Me", "viewer_id": float64(viewerID), "error_codes": "GRAPHQL_VALIDATION_FAILED",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s: got %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("no duration_ms")
	}
	for _, secret := range []string{"ada_lovelace", "@example.com", reader.Token} {
		if strings.Contains(text, secret) {
			t.Errorf("the log line holds %q", secret)
		}
	}
	logs.mu.Lock()
	n := strings.Count(logs.b.String(), `"request_id":"log-test"`)
	logs.mu.Unlock()
	if n != 1 {
		t.Errorf("want one log line for the batch, got %d", n)
	}

	// Refused before any GraphQL ran: the code still reaches the line.
	postRaw(t, a, "not-a-token", "log-test-401", map[string]any{"query": namedFeedPage, "variables": map[string]any{"n": 5}})
	waitFor(t, "access log line of the refused request", func() bool {
		line, text = logs.line(func(m map[string]any) bool { return m["request_id"] == "log-test-401" })
		return line != nil
	})
	if line["status"] != float64(401) || line["error_codes"] != "UNAUTHENTICATED" || line["operation"] != nil {
		t.Errorf("refused request: %s", text)
	}

	// A socket's line, written when it closes, names its subscription and viewer.
	p := a.createPost(t, reader, map[string]any{"title": "Live", "publish": true})
	s := a.subscribe(t, a.as(reader), testenv.TransportWS, `subscription Comments($id: ID!) { commentAdded(postID: $id) { body } }`, map[string]any{"id": p.ID})
	a.as(reader).Do(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "hi"}) { comment { id } } }`, map[string]any{"id": p.ID}, nil)
	if r, ok := s.Next(t, wait); !ok || len(r.Errors) > 0 {
		t.Fatalf("no event: %+v", r)
	}
	s.Close()
	waitFor(t, "access log line of the socket", func() bool {
		line, text = logs.line(func(m map[string]any) bool { return m["operation"] == "subscription Comments" })
		return line != nil
	})
	if line["viewer_id"] != float64(viewerID) || line["trace_id"] == nil {
		t.Errorf("socket: %s", text)
	}
}

// TestMetricsDBPool: agora_db_pool_* describe the pool that holds the connections — the pgx pool
// on PostgreSQL (not database/sql's wrapper over it), database/sql's on SQLite: its limit, the
// connections open and in use while requests hold them, and the waits of a request that found
// none free.
func TestMetricsDBPool(t *testing.T) {
	for _, name := range []string{"postgres", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Once armed, started hears of a statement before it asks the pool for a connection.
			var armed atomic.Bool
			started := make(chan struct{}, 1)
			onStatement := func(context.Context, string, []any) {
				if armed.Load() {
					select {
					case started <- struct{}{}:
					default:
					}
				}
			}
			o, max := database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db"), OnStatement: onStatement}, 8.0
			if name == "postgres" {
				o, max = database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10, OnStatement: onStatement}, 10
			}
			db := openDB(t, o)
			if _, err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			// No job workers: the pool is the requests' alone.
			a := startAPIWith(t, db, nil, func(cfg *config.Config) { cfg.Jobs.Workers = false })
			scrape := func() map[string]float64 { return testenv.Scrape(t, a.srv.URL+"/metrics") }
			a.register(t, "ada") // the pool has been used
			// Open connections are in use or idle, once none is still being opened.
			var s map[string]float64
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				s = scrape()
				if s["agora_db_pool_open_connections"] == s["agora_db_pool_in_use_connections"]+s["agora_db_pool_idle_connections"] || time.Now().After(deadline) {
					break
				}
			}
			if s["agora_db_pool_max_connections"] != max || s["agora_db_pool_open_connections"] < 1 ||
				s["agora_db_pool_open_connections"] != s["agora_db_pool_in_use_connections"]+s["agora_db_pool_idle_connections"] {
				t.Fatalf("an idle pool: %v", poolSamples(s))
			}

			// Hold every connection, as long transactions would.
			var held []*sql.Conn
			for range int(max) {
				c, err := a.db.SQL.Conn(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if err := c.PingContext(t.Context()); err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
			}
			before := scrape()
			if before["agora_db_pool_in_use_connections"] != max || before["agora_db_pool_open_connections"] != max || before["agora_db_pool_idle_connections"] != 0 {
				t.Fatalf("every connection held: %v", poolSamples(before))
			}
			// A request now waits for a connection, until one is released: its statement is about
			// to ask the pool for one, and finds none for as long as they are held.
			const hold = 200 * time.Millisecond
			done := make(chan testenv.Response, 1)
			armed.Store(true)
			go func() { done <- a.Post(t, `{ users(first: 1) { edges { node { username } } } }`, nil) }()
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("the request never ran its statement")
			}
			time.Sleep(hold)
			for _, c := range held {
				c.Close()
			}
			if r := <-done; len(r.Errors) > 0 {
				t.Fatalf("the waiting request: %+v", r.Errors)
			}
			after := scrape()
			waits := after["agora_db_pool_waits_total"] - before["agora_db_pool_waits_total"]
			waited := after["agora_db_pool_wait_seconds_total"] - before["agora_db_pool_wait_seconds_total"]
			if waits < 1 || waited < hold.Seconds()/2 || after["agora_db_pool_in_use_connections"] >= max {
				t.Fatalf("after a wait of %s: %v more waits, %.3fs more waited; %v", hold, waits, waited, poolSamples(after))
			}
		})
	}
}

func poolSamples(s map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s {
		if strings.HasPrefix(k, "agora_db_pool_") {
			out[k] = v
		}
	}
	return out
}
