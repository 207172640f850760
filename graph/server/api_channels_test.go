package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/testenv"
)

// frame is a message of the graphql-transport-ws protocol.
type frame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// rawSocket is a graphql-transport-ws connection driven frame by frame.
type rawSocket struct {
	t    *testing.T
	ctx  context.Context
	conn *websocket.Conn
}

// openSocket connects to a and sends connection_init with token (none when empty). It does not
// wait for the acknowledgement: a refused connection is closed instead.
func openSocket(t *testing.T, a *api, token string) (*rawSocket, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait) // a guard against hanging, not a speed check
	t.Cleanup(cancel)
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.URL, "http"), &websocket.DialOptions{Subprotocols: []string{testenv.TransportWS}})
	if err != nil {
		return nil, res, err
	}
	conn.SetReadLimit(4 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	s := &rawSocket{t: t, ctx: ctx, conn: conn}
	init := map[string]any{}
	if token != "" {
		init["Authorization"] = "Bearer " + token
	}
	payload, _ := json.Marshal(init)
	s.send(frame{Type: "connection_init", Payload: payload})
	return s, res, nil
}

func (s *rawSocket) send(f frame) {
	s.t.Helper()
	if err := wsjson.Write(s.ctx, s.conn, f); err != nil {
		s.t.Fatal(err)
	}
}

// read returns the next frame, or the error that ended the connection.
func (s *rawSocket) read() (frame, error) {
	var f frame
	err := wsjson.Read(s.ctx, s.conn, &f)
	return f, err
}

// subscribe sends an operation under id.
func (s *rawSocket) subscribe(id, query string, vars map[string]any) {
	s.t.Helper()
	op, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	s.send(frame{ID: id, Type: "subscribe", Payload: op})
}

// acked waits for connection_ack.
func (s *rawSocket) acked() {
	s.t.Helper()
	for {
		f, err := s.read()
		if err != nil {
			s.t.Fatalf("before connection_ack: %v", err)
		}
		if f.Type == "connection_ack" {
			return
		}
	}
}

// TestSocketOperationBudget: every operation sent over a WebSocket spends the caller's request
// budget, as an HTTP request would. Past it, each operation is refused on its own with an error
// coded RATE_LIMITED (and the time to wait), and the socket stays open. Event streams are one
// request each.
func TestSocketOperationBudget(t *testing.T) {
	t.Parallel()
	a := newLimitedAPI(t, nil, func(c *config.Config) { c.RateLimits.RequestsPerIP = config.Budget{Burst: 50, Per: time.Hour} })
	s, _, err := openSocket(t, a, "") // the upgrade is the address's first request
	if err != nil {
		t.Fatal(err)
	}
	s.acked()
	const n = 150
	for i := range n {
		s.subscribe(strconv.Itoa(i), `{ posts(first: 20) { edges { node { id title } } } }`, nil)
	}
	answered, refused, ended := 0, 0, map[string]bool{}
	for len(ended) < n { // an operation ends with "complete", or "error" (which gqlgen follows by "complete")
		f, err := s.read()
		if err != nil {
			t.Fatalf("the socket closed after %d operations: %v", len(ended), err)
		}
		switch f.Type {
		case "next":
			if strings.Contains(string(f.Payload), `"errors"`) {
				t.Fatalf("operation %s: %s", f.ID, f.Payload)
			}
			answered++
		case "error":
			var errs []testenv.Error
			_ = json.Unmarshal(f.Payload, &errs)
			if len(errs) != 1 || errs[0].Code() != "RATE_LIMITED" {
				t.Fatalf("operation %s refused with %s, want RATE_LIMITED", f.ID, f.Payload)
			}
			if secs, _ := errs[0].Extensions["retryAfterSeconds"].(float64); !about(int(secs), 72) { // 50 per hour: one every 72 s
				t.Fatalf("retryAfterSeconds %v, want about 72", errs[0].Extensions["retryAfterSeconds"])
			}
			refused++
			ended[f.ID] = true
		case "complete":
			ended[f.ID] = true
		}
	}
	if answered != 49 || refused != n-49 {
		t.Fatalf("%d operations answered and %d refused, want 49 (the budget of 50 less the upgrade) and %d", answered, refused, n-49)
	}
	// The socket is still up: it answers a ping, and the next operation is refused on its own.
	s.send(frame{Type: "ping"})
	s.subscribe("last", `{ __typename }`, nil)
	for got := map[string]bool{}; !got["pong"] || !got["error"]; {
		f, err := s.read()
		if err != nil {
			t.Fatalf("the socket closed: %v", err)
		}
		got[f.Type] = true
	}
	// HTTP requests from the address draw on the same budget.
	wantRefused(t, request(t, a, ""), 72)
	// So do event streams: each is a request.
	if _, err := a.GraphQL.TrySubscribe(t, testenv.TransportSSE, `subscription { notificationAdded { kind } }`, nil); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("an event stream past the budget: %v, want 429", err)
	}
}

// wantTooMany checks a connection refused at the door: 429 RATE_LIMITED naming the cap.
func wantTooMany(t *testing.T, res *http.Response, err error, limit string) {
	t.Helper()
	if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("want a 429 refusal, got %v (%v)", res, err)
	}
	var body testenv.Response
	if derr := json.NewDecoder(res.Body).Decode(&body); derr != nil || len(body.Errors) != 1 || body.Errors[0].Code() != "RATE_LIMITED" ||
		body.Errors[0].Extensions["limit"] != limit {
		t.Fatalf("want RATE_LIMITED on %s, got %+v (%v)", limit, body.Errors, derr)
	}
}

// TestConnectionCaps: a client holds at most AGORA_MAX_SOCKETS_PER_IP open connections while
// anonymous and AGORA_MAX_SOCKETS_PER_USER once signed in, and a topic takes at most
// AGORA_MAX_TOPIC_SUBSCRIBERS subscribers per replica: the "500 sockets × 20 subscriptions on one
// post" attack is refused past each cap, with a code that names it.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	a := newLimitedAPI(t, nil, func(c *config.Config) {
		c.Channels.SocketsPerIP, c.Channels.SocketsPerUser, c.Channels.TopicSubscribers = 3, 2, 12
	})
	ada := a.register(t, "ada")
	p := a.createPost(t, ada, map[string]any{"title": "Popular", "publish": true})
	url := "ws" + strings.TrimPrefix(a.URL, "http")

	// Signed in by connection_init: two sockets; a third is closed with 4429 and a reason.
	for range 2 {
		s, _, err := openSocket(t, a, ada.Token)
		if err != nil {
			t.Fatal(err)
		}
		s.acked()
	}
	s, _, err := openSocket(t, a, ada.Token)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = s.read()
	}
	var closed websocket.CloseError
	if !errors.As(err, &closed) || closed.Code != 4429 || !strings.Contains(closed.Reason, "too many open connections for this user") {
		t.Fatalf("ada's third socket: %v, want close 4429 with a reason", err)
	}
	// Signed in on the upgrade request: refused at the door.
	_, res, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{Subprotocols: []string{testenv.TransportWS},
		HTTPHeader: http.Header{"Authorization": {"Bearer " + ada.Token}}})
	wantTooMany(t, res, err, "socketsPerUser")

	// Anonymous: three from the address (ada's, signed in, are hers, not the address's).
	var anon []*rawSocket
	for range 3 {
		s, _, err := openSocket(t, a, "")
		if err != nil {
			t.Fatal(err)
		}
		s.acked()
		anon = append(anon, s)
	}
	_, res, err = websocket.Dial(t.Context(), url, &websocket.DialOptions{Subprotocols: []string{testenv.TransportWS}})
	wantTooMany(t, res, err, "socketsPerAddress")
	if _, err := a.GraphQL.TrySubscribe(t, testenv.TransportSSE, `subscription { notificationAdded { kind } }`, nil); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("an event stream from a full address: %v, want 429", err)
	}

	// 3 sockets × 5 subscriptions to one post: the topic takes 12, the other 3 are refused.
	for i, s := range anon {
		for j := range 5 {
			s.subscribe(strconv.Itoa(i*5+j), `subscription($id: ID!) { commentAdded(postID: $id) { body } }`, map[string]any{"id": p.ID})
		}
	}
	// Once 12 run, a comment reaches them: each subscription answers once, with the comment or
	// its refusal.
	giveUp := time.Now().Add(wait)
	for a.live.Stats().Active < 12 {
		if time.Now().After(giveUp) {
			t.Fatalf("%d of 12 subscriptions started", a.live.Stats().Active)
		}
		time.Sleep(time.Millisecond)
	}
	a.as(ada).Do(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "hello"}) { comment { id } } }`, map[string]any{"id": p.ID}, nil)
	delivered, refused := 0, 0
	for i, s := range anon {
		for got := 0; got < 5; {
			f, err := s.read()
			if err != nil {
				t.Fatalf("socket %d closed: %v", i, err)
			}
			var r testenv.Response
			_ = json.Unmarshal(f.Payload, &r)
			switch {
			case f.Type != "next" && f.Type != "error":
				continue
			case string(r.Data) == `{"commentAdded":{"body":"hello"}}`:
				delivered++
			case strings.Contains(string(f.Payload), `"SERVICE_UNAVAILABLE"`):
				refused++
			default:
				t.Fatalf("socket %d: %s %s: %s", i, f.Type, f.ID, f.Payload)
			}
			got++
		}
	}
	if n := a.live.Stats().Active; n != 12 || delivered != 12 || refused != 3 {
		t.Fatalf("%d subscriptions running, %d got the comment and %d were refused; want 12, 12 and 3", n, delivered, refused)
	}

	// A socket that closes makes room for another.
	anon[0].conn.Close(websocket.StatusNormalClosure, "")
	waitUntil(t, "a place freed by a closed socket", func() bool {
		conn, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{Subprotocols: []string{testenv.TransportWS}})
		if err == nil {
			conn.CloseNow()
		}
		return err == nil
	})
}

// TestConnectionCapDefault: with the default caps, the 51st anonymous socket from one address is
// refused.
func TestConnectionCapDefault(t *testing.T) {
	t.Parallel()
	a := newLimitedAPI(t, nil, func(c *config.Config) { c.Channels = config.Defaults().Channels })
	for range config.Defaults().Channels.SocketsPerIP {
		s, _, err := openSocket(t, a, "")
		if err != nil {
			t.Fatal(err)
		}
		s.acked()
	}
	_, res, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(a.URL, "http"), &websocket.DialOptions{Subprotocols: []string{testenv.TransportWS}})
	wantTooMany(t, res, err, "socketsPerAddress")
}
