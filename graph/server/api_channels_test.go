package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

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
	a := newLimitedAPI(t, nil, func(c *config.Config) { c.RateLimitIP = "50/1h" })
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
