package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
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

// The Accept headers clients send by default.
const (
	urqlAccept             = "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"
	urqlSubscriptionAccept = "text/event-stream, multipart/mixed"
	apolloAccept           = "application/graphql-response+json,application/json;q=0.9" // Apollo Client 4
	apollo3Accept          = "*/*"
)

// TestTransportNegotiation: a query or mutation gets one JSON response whatever else Accept names
// and in whatever order (urql names event streams and multipart too), an event stream only when the
// client prefers it strictly; a subscription streams in the format the client names. Over POST and
// GET, on the real handler.
func TestTransportNegotiation(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	const query = `{ __typename }`
	const subscription = `subscription { commentAdded(postID: "1") { body } }`
	for _, tc := range []struct {
		name, accept, query string
		get                 bool
		want                string // the answer's media type
	}{
		{"urql's default", urqlAccept, query, false, "application/graphql-response+json"},
		{"urql's default, GET", urqlAccept, query, true, "application/graphql-response+json"},
		{"Apollo Client 4", apolloAccept, query, false, "application/graphql-response+json"},
		{"Apollo Client 3", apollo3Accept, query, false, "application/json"},
		{"no Accept", "", query, false, "application/json"},
		{"application/json first", "application/json, application/graphql-response+json;q=0.5", query, false, "application/json"},
		{"event stream listed first", "text/event-stream, application/json", query, false, "application/json"},
		{"event stream alone", "text/event-stream", query, false, "text/event-stream"},
		{"event stream preferred", "application/json;q=0.5, text/event-stream", query, false, "text/event-stream"},
		{"event stream alone, GET", "text/event-stream", query, true, "text/event-stream"},
		{"multipart alone", "multipart/mixed", query, false, "application/graphql-response+json"},
		{"urql subscription", urqlSubscriptionAccept, subscription, false, "text/event-stream"},
		{"multipart preferred for a subscription", "text/event-stream;q=0.5, multipart/mixed", subscription, false, "multipart/mixed"},
		{"Apollo subscription", testenv.MultipartAccept, subscription, false, "multipart/mixed"},
		{"Hive Gateway subscription", "text/event-stream", subscription, true, "text/event-stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), wait) // a hang guard
			defer cancel()
			var req *http.Request
			if tc.get {
				req, _ = http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"?"+url.Values{"query": {tc.query}}.Encode(), nil)
			} else {
				req, _ = http.NewRequestWithContext(ctx, http.MethodPost, a.URL, strings.NewReader(queryBody(tc.query)))
				req.Header.Set("Content-Type", "application/json")
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			ct := res.Header.Get("Content-Type")
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(ct, tc.want) {
				b, _ := io.ReadAll(io.LimitReader(res.Body, 300))
				t.Fatalf("want 200 %s, got %d %q: %s", tc.want, res.StatusCode, ct, b)
			}
			if tc.query != query {
				return // a subscription's stream: its events are other tests' business
			}
			body, _ := io.ReadAll(res.Body)
			want := `{"data":{"__typename":"Query"}` // extensions may follow (dbStatements, in development)
			if strings.HasPrefix(ct, "text/event-stream") {
				want = "event: next\ndata: " + want
				if !strings.HasSuffix(string(body), "event: complete\ndata:\n\n") {
					t.Errorf("the stream does not complete: %q", body)
				}
			}
			if !strings.Contains(string(body), want) {
				t.Errorf("want %q in %q", want, body)
			}
		})
	}

	// A batch from urql (which names streams too) is answered as JSON.
	b := sqliteAPI(t, func(c *config.Config) { c.HTTP.MaxBatch = 2 })
	res, body := send(t, http.MethodPost, b.URL, `[{"query":"{ __typename }"},{"query":"{ __typename }"}]`,
		map[string]string{"Content-Type": "application/json", "Accept": urqlAccept})
	var batch []testenv.Response
	if err := json.Unmarshal(body, &batch); err != nil || res.StatusCode != http.StatusOK || len(batch) != 2 || string(batch[1].Data) != `{"__typename":"Query"}` {
		t.Errorf("urql batch: %d %s", res.StatusCode, body)
	}
}

// TestTransportRequestErrors: requests that fail before they run answer as GraphQL over HTTP says,
// without a data entry: 400 when they hold no GraphQL request; a document that does not parse or
// validate is 400 with application/graphql-response+json and 200 with application/json.
func TestTransportRequestErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	for _, tc := range []struct {
		name, body, code  string
		json, graphQLJSON int // the status with each media type
	}{
		{"no query", `{"qeury": "{ __typename }"}`, "GRAPHQL_VALIDATION_FAILED", 400, 400},
		{"not JSON", `{"query": `, "BAD_REQUEST", 400, 400},
		{"does not parse", `{"query": "{"}`, "GRAPHQL_PARSE_FAILED", 200, 400},
		{"does not validate", `{"query": "{ nope }"}`, "GRAPHQL_VALIDATION_FAILED", 200, 400},
		{"variable coercion", `{"query": "query($n: Int!) { posts(first: $n) { totalCount } }", "variables": {"n": "x"}}`, "GRAPHQL_VALIDATION_FAILED", 200, 400},
		{"operation limit", queryBody("{ " + strings.Repeat("a: __typename ", 40) + "}"), "OPERATION_LIMIT", 200, 400},
	} {
		for accept, status := range map[string]int{"application/json": tc.json, "application/graphql-response+json": tc.graphQLJSON} {
			res, body := send(t, http.MethodPost, a.URL, tc.body, map[string]string{"Content-Type": "application/json", "Accept": accept})
			var r map[string]json.RawMessage
			_ = json.Unmarshal(body, &r)
			if _, ok := r["data"]; ok || res.StatusCode != status || !strings.HasPrefix(res.Header.Get("Content-Type"), accept) ||
				!strings.Contains(string(r["errors"]), `"code":"`+tc.code+`"`) {
				t.Errorf("%s, %s: want %d %s without data, got %d %q %s", tc.name, accept, status, tc.code, res.StatusCode, res.Header.Get("Content-Type"), body)
			}
		}
	}
	// A client that asks for an event stream only gets the errors as its stream's one event.
	res, body := send(t, http.MethodPost, a.URL, `{"query": "{ nope }"}`, map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream"})
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "event: next\ndata: {\"errors\":") || !strings.Contains(string(body), "GRAPHQL_VALIDATION_FAILED") ||
		!strings.HasSuffix(string(body), "event: complete\ndata:\n\n") {
		t.Errorf("validation error in an event stream: %d %q", res.StatusCode, body)
	}
}

// TestSubscriptionRefusedAsJSON: a subscription sent as a plain JSON POST (or a GET) that accepts
// no stream is refused at once with 406 NOT_ACCEPTABLE, naming the transports that stream.
func TestSubscriptionRefusedAsJSON(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	ada := a.register(t, "ada")
	p := a.createPost(t, ada, map[string]any{"title": "Quiet", "publish": true})
	sub := `subscription($id: ID!) { commentAdded(postID: $id) { body } }`
	vars, _ := json.Marshal(map[string]any{"id": p.ID})
	get := a.URL + "?" + url.Values{"query": {sub}, "variables": {string(vars)}}.Encode()
	for _, tc := range []struct {
		name, method, target, body string
		headers                    map[string]string
	}{
		{"POST, no Accept", http.MethodPost, a.URL, string(gqlBody(sub, map[string]any{"id": p.ID})), jsonHeaders},
		{"POST, JSON", http.MethodPost, a.URL, string(gqlBody(sub, map[string]any{"id": p.ID})), map[string]string{"Content-Type": "application/json", "Accept": apolloAccept}},
		{"POST, any type", http.MethodPost, a.URL, string(gqlBody(sub, map[string]any{"id": p.ID})), map[string]string{"Content-Type": "application/json", "Accept": "*/*"}},
		{"GET, JSON", http.MethodGet, get, "", map[string]string{"Apollo-Require-Preflight": "true", "Accept": "application/json"}},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), wait) // nothing is commented: a blocked answer would hang
		req, _ := http.NewRequestWithContext(ctx, tc.method, tc.target, strings.NewReader(tc.body))
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		res, body := httpSend(t, req)
		cancel()
		wantRefusal(t, tc.name, res, body, http.StatusNotAcceptable, "NOT_ACCEPTABLE")
		if !strings.Contains(string(body), "text/event-stream") || !strings.Contains(string(body), "multipart/mixed") {
			t.Errorf("%s: the refusal does not name the streaming transports: %s", tc.name, body)
		}
	}
}

// readSSE reads server-sent events until one named event arrives, and returns its data.
func readSSE(t *testing.T, r *bufio.Reader, event string) string {
	t.Helper()
	var name string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended before a %q event: %v", event, err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data:") && name == event:
			return strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
}

// operationEvent reads the data of a single-connection next event: the operation's id and response.
func operationEvent(t *testing.T, data string) (string, testenv.Response) {
	t.Helper()
	var e struct {
		ID      string
		Payload testenv.Response
	}
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		t.Fatalf("event data %q: %v", data, err)
	}
	return e.ID, e.Payload
}

// comment adds a comment to post p as u.
func (a *api) comment(t *testing.T, u user, p post, body string) {
	t.Helper()
	a.as(u).Do(t, `mutation($id: ID!, $b: String!) { addComment(input: {postID: $id, body: $b}) { comment { id } } }`, map[string]any{"id": p.ID, "b": body}, nil)
}

// waitSubscribed waits until a has started n subscriptions more than before.
func (a *api) waitSubscribed(t *testing.T, before, n int64) {
	t.Helper()
	for giveUp := time.Now().Add(wait); a.live.Stats().Started < before+n; time.Sleep(time.Millisecond) {
		if time.Now().After(giveUp) {
			t.Fatalf("the subscription did not start within %v", wait)
		}
	}
}

// TestSubscriptionGETEventStream: Hive Gateway's and EventSource's subscription — a GET with the
// operation in the URL and Accept: text/event-stream, no other header — streams events; CSRF
// prevention lets it through, while the stream follows the WebSocket origin rule: a page of another
// site not in AGORA_ALLOWED_ORIGINS, or a cross-site no-cors request, is refused 403.
func TestSubscriptionGETEventStream(t *testing.T) {
	t.Parallel()
	a := sqliteAPI(t, func(c *config.Config) { c.HTTP.AllowedOrigins = []string{"app.example.com"} })
	ada, bob := a.register(t, "ada"), a.register(t, "bob")
	p := a.createPost(t, ada, map[string]any{"title": "Live over GET", "publish": true})
	vars, _ := json.Marshal(map[string]any{"id": p.ID})
	target := a.URL + "?" + url.Values{"query": {`subscription($id: ID!) { commentAdded(postID: $id) { body author { username } } }`}, "variables": {string(vars)}}.Encode()

	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"another site's page", map[string]string{"Origin": "https://evil.example.com", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"a cross-site no-cors request", map[string]string{"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"an allowed site's page", map[string]string{"Origin": "https://app.example.com", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "cross-site"}, http.StatusOK},
		{"no other header (Hive Gateway)", nil, http.StatusOK},
	} {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		req.Header.Set("Accept", "text/event-stream")
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		before := a.live.Stats().Started
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != tc.status {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("%s: want %d, got %d %s", tc.name, tc.status, res.StatusCode, b)
		}
		if res.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(res.Body)
			wantRefusal(t, tc.name, res, b, tc.status, "FORBIDDEN")
			res.Body.Close()
			cancel()
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Fatalf("%s: Content-Type %q", tc.name, ct)
		}
		a.waitSubscribed(t, before, 1)
		a.comment(t, bob, p, "over GET")
		if got := decodeGraphQL(t, []byte(readSSE(t, bufio.NewReader(res.Body), "next"))); string(got.Data) != `{"commentAdded":{"body":"over GET","author":{"username":"bob"}}}` {
			t.Fatalf("%s: event %s %+v", tc.name, got.Data, got.Errors)
		}
		res.Body.Close()
		cancel()
	}

	// A GET that does not ask for a stream is still a simple request: refused without a preflight header.
	res, body := send(t, http.MethodGet, target, "", map[string]string{"Accept": "application/json"})
	wantRefusal(t, "GET without a preflight header", res, body, http.StatusBadRequest, "CSRF_PREVENTED")
}

// serveWithTimeouts serves Agora on db as the binary does, with the server's own timeouts
// (NewHTTPServer), configured by configure.
func serveWithTimeouts(t *testing.T, db *database.DB, configure func(*config.Config)) *api {
	t.Helper()
	cfg := testConfig()
	configure(&cfg)
	app, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	startJobs(t, app)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewHTTPServer(cfg.HTTP, app.Handler())
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return &api{GraphQL: testenv.GraphQL{URL: "http://" + l.Addr().String() + "/graphql"}, db: db, accounts: app.Accounts, live: app.Live}
}

// TestSubscriptionMultipart: Apollo Client's HTTP multipart subscription. The response headers and
// the first boundary come at once, before any event; events are {"payload": …} parts; the stream
// outlives the server's write timeout.
func TestSubscriptionMultipart(t *testing.T) {
	t.Parallel()
	// Users and the post are made through a server without the short timeout: signing up hashes a
	// password, which may take longer than it on a busy machine.
	plain := newAPI(t, "sqlite")
	ada, bob := plain.register(t, "ada"), plain.register(t, "bob")
	p := plain.createPost(t, ada, map[string]any{"title": "Live in parts", "publish": true})
	const writeTimeout = time.Second
	a := serveWithTimeouts(t, plain.db, func(c *config.Config) { c.HTTP.WriteTimeout = writeTimeout })

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, strings.NewReader(string(gqlBody(
		`subscription OnComment($id: ID!) { commentAdded(postID: $id) { body } }`, map[string]any{"id": p.ID}))))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", testenv.MultipartAccept)
	before := a.live.Stats().Started
	// No event can come before the comment below: the headers must not wait for one.
	res, err := (&http.Client{Transport: &http.Transport{ResponseHeaderTimeout: wait}}).Do(req)
	if err != nil {
		t.Fatalf("no response headers before the first event: %v", err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || ct != `multipart/mixed;boundary="graphql";subscriptionSpec="1.0"` {
		t.Fatalf("%d %q", res.StatusCode, ct)
	}
	r := bufio.NewReader(res.Body)
	first := make([]byte, len("\r\n--graphql"))
	if _, err := io.ReadFull(r, first); err != nil || string(first) != "\r\n--graphql" {
		t.Fatalf("the first boundary: %q %v", first, err)
	}
	a.waitSubscribed(t, before, 1)
	time.Sleep(writeTimeout + writeTimeout/2) // past the write deadline of an ordinary request
	a.comment(t, bob, p, "in a part")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended before the event: %v", err)
		}
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "{") && line != "{}" {
			var part struct{ Payload testenv.Response }
			if err := json.Unmarshal([]byte(line), &part); err != nil || string(part.Payload.Data) != `{"commentAdded":{"body":"in a part"}}` {
				t.Fatalf("part: %s", line)
			}
			break
		}
	}
}

// TestSubscriptionSSESingleConnection: graphql-sse's single-connection mode — PUT reserves a stream
// (201, a token), GET opens it, POSTs with the token run operations on it (202), their responses
// come as next events {"id", "payload"} and end with complete {"id"}, DELETE stops one — and its
// refusals, each with a code.
func TestSubscriptionSSESingleConnection(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	ada, bob := a.register(t, "ada"), a.register(t, "bob")
	p := a.createPost(t, ada, map[string]any{"title": "One stream", "publish": true})

	res, token := send(t, http.MethodPut, a.URL, "", nil) // no Content-Type: a PUT is preflighted by browsers
	if res.StatusCode != http.StatusCreated || len(token) < 20 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("PUT: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), token)
	}
	withToken := func(h map[string]string) map[string]string {
		h["X-GraphQL-Event-Stream-Token"] = string(token)
		return h
	}
	operate := func(id, query string, vars map[string]any, token string) (*http.Response, []byte) {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars, "extensions": map[string]any{"operationId": id}})
		return send(t, http.MethodPost, a.URL+"?token="+url.QueryEscape(token), string(body), map[string]string{"Content-Type": "application/json; charset=utf-8"})
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	for k, v := range withToken(map[string]string{"Accept": "text/event-stream", "Authorization": "Bearer " + ada.Token}) {
		req.Header.Set(k, v)
	}
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d", stream.StatusCode)
	}
	events := bufio.NewReader(stream.Body)

	res, body := send(t, http.MethodGet, a.URL, "", withToken(map[string]string{"Accept": "text/event-stream"}))
	wantRefusal(t, "a second GET", res, body, http.StatusConflict, "CONFLICT")
	res, body = operate("x", `{ __typename }`, nil, "not-a-token")
	wantRefusal(t, "an unknown token", res, body, http.StatusNotFound, "NOT_FOUND")
	res, body = send(t, http.MethodPost, a.URL, queryBody(`{ __typename }`), withToken(map[string]string{"Content-Type": "application/json"}))
	wantRefusal(t, "no operationId", res, body, http.StatusBadRequest, "BAD_REQUEST")

	// A subscription and a query share the stream.
	before := a.live.Stats().Started
	if res, body := operate("sub", `subscription($id: ID!) { commentAdded(postID: $id) { body } }`, map[string]any{"id": p.ID}, string(token)); res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST a subscription: %d %s", res.StatusCode, body)
	}
	res, body = operate("sub", `{ __typename }`, nil, string(token))
	wantRefusal(t, "an operationId taken", res, body, http.StatusConflict, "CONFLICT")
	a.waitSubscribed(t, before, 1)
	if res, _ := operate("q", `{ viewer { username } }`, nil, string(token)); res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST a query: %d", res.StatusCode)
	}
	if id, r := operationEvent(t, readSSE(t, events, "next")); id != "q" || string(r.Data) != `{"viewer":null}` {
		t.Fatalf("the query's event (signed out: its POST carried no token): %s %s", id, r.Data)
	}
	if got := readSSE(t, events, "complete"); got != `{"id":"q"}` {
		t.Fatalf("the query's end: %s", got)
	}
	a.comment(t, bob, p, "one stream")
	if id, r := operationEvent(t, readSSE(t, events, "next")); id != "sub" || string(r.Data) != `{"commentAdded":{"body":"one stream"}}` {
		t.Fatalf("the subscription's event: %s %s %+v", id, r.Data, r.Errors)
	}
	// A document that does not validate is the operation's one event.
	if res, _ := operate("bad", `{ nope }`, nil, string(token)); res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST an invalid document: %d", res.StatusCode)
	}
	if got := readSSE(t, events, "next"); !strings.HasPrefix(got, `{"id":"bad","payload":{"errors":[`) || !strings.Contains(got, "GRAPHQL_VALIDATION_FAILED") {
		t.Fatalf("an invalid document's event: %s", got)
	}
	readSSE(t, events, "complete")

	res, body = send(t, http.MethodDelete, a.URL, "", withToken(map[string]string{}))
	wantRefusal(t, "DELETE without operationId", res, body, http.StatusBadRequest, "BAD_REQUEST")
	if res, _ := send(t, http.MethodDelete, a.URL+"?operationId=sub", "", withToken(map[string]string{})); res.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d", res.StatusCode)
	}
	if got := readSSE(t, events, "complete"); got != `{"id":"sub"}` {
		t.Fatalf("the subscription's end: %s", got)
	}
	for giveUp := time.Now().Add(wait); a.live.Stats().Active > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(giveUp) {
			t.Fatal("the deleted subscription still runs")
		}
	}

	// Once the stream's GET ends, its token is gone.
	cancel()
	for giveUp := time.Now().Add(wait); ; time.Sleep(5 * time.Millisecond) {
		res, _ := operate("late", `{ __typename }`, nil, string(token))
		if res.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(giveUp) {
			t.Fatalf("the token still works after its stream closed: %d", res.StatusCode)
		}
	}
}

// TestStreamSessionEnds: an HTTP stream holds its viewer to the rule sockets follow: once the
// session it was opened with ends, the subscription ends with an UNAUTHENTICATED event.
func TestStreamSessionEnds(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	bob := a.register(t, "bob")
	for _, tr := range []string{testenv.TransportSSE, testenv.TransportSSEGet, testenv.TransportSSESingle, testenv.TransportMultipart} {
		t.Run(tr, func(t *testing.T) {
			session := a.login(t, bob.Username).AccessToken
			s := a.subscribe(t, a.As(session), tr, `subscription { notificationAdded { kind } }`, nil)
			a.As(session).Do(t, `mutation { logout { sessionID } }`, nil, nil)
			r, ok := s.Next(t, wait)
			if !ok || len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" || !strings.Contains(r.Errors[0].Message, "session ended") {
				t.Fatalf("after logout: want an UNAUTHENTICATED event, got %v %s %+v", ok, r.Data, r.Errors)
			}
			select {
			case <-s.Done():
			case <-time.After(wait):
				t.Fatal("the stream stayed open after its session ended")
			}
		})
	}
}

// TestDeferResolvedInline: fields a @defer fragment selects come in the one response, as they
// would without the directive (the incremental delivery proposal lets a server ignore it), over
// HTTP's JSON, an event stream and a WebSocket, in a query and in a mutation; no "hasNext", no
// second payload.
func TestDeferResolvedInline(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	ada := a.register(t, "ada")
	p := a.createPost(t, ada, map[string]any{"title": "Deferred", "publish": true})
	a.comment(t, ada, p, "first")
	const deferred = `query($more: Boolean!) {
  posts(first: 5) { edges { node { id ... @defer(label: "more") { title author { username ... @defer { id } } } ...Counts @defer(if: $more) } } }
}
fragment Counts on Post { comments(first: 2) { totalCount edges { node { body } } } }`
	plain := strings.NewReplacer(`($more: Boolean!)`, "", ` @defer(label: "more")`, "", ` @defer(if: $more)`, "", ` @defer`, "").Replace(deferred)
	vars := map[string]any{"more": true}
	want := a.Post(t, plain, nil)
	if len(want.Errors) > 0 || !strings.Contains(string(want.Data), `"username":"ada"`) || !strings.Contains(string(want.Data), `"body":"first"`) {
		t.Fatalf("without @defer: %s %+v", want.Data, want.Errors)
	}

	body, err := json.Marshal(map[string]any{"query": deferred, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(a.URL, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var got testenv.Response
	if err := json.Unmarshal(raw, &got); err != nil || strings.Contains(string(raw), "hasNext") || string(got.Data) != string(want.Data) {
		t.Errorf("HTTP: %s, want the data %s", raw, want.Data)
	}

	for _, tr := range []string{testenv.TransportSSE, testenv.TransportWS} {
		s := a.GraphQL.Subscribe(t, tr, deferred, vars)
		if r, ok := s.Next(t, wait); !ok || len(r.Errors) > 0 || string(r.Data) != string(want.Data) {
			t.Errorf("%s: %s %+v, want the data %s", tr, r.Data, r.Errors, want.Data)
		}
		if r, ok := s.Next(t, wait); ok {
			t.Errorf("%s: a second payload %s", tr, r.Data)
		}
		s.Close()
	}

	var out struct {
		AddComment struct {
			Comment struct {
				Body   string
				Author struct{ Username string }
			}
		}
	}
	r := a.as(ada).Post(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "second"}) { comment { id ... @defer { body author { username } } } } }`, map[string]any{"id": p.ID})
	if err := json.Unmarshal(r.Data, &out); err != nil || len(r.Errors) > 0 || out.AddComment.Comment.Body != "second" || out.AddComment.Comment.Author.Username != "ada" {
		t.Errorf("mutation: %s %+v", r.Data, r.Errors)
	}
}
