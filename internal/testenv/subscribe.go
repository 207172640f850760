package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// The subscription transports Agora serves.
const (
	TransportWS       = "graphql-transport-ws" // the graphql-ws library's protocol
	TransportLegacyWS = "graphql-ws"           // subscriptions-transport-ws, Apollo's former protocol
	TransportSSE      = "sse"                  // GraphQL over server-sent events (single connection per operation)
)

// Transports lists them all, for tests that cover each.
var Transports = []string{TransportWS, TransportLegacyWS, TransportSSE}

// Stream is one subscription's responses.
type Stream struct {
	next   chan Response
	done   chan struct{}
	err    error // why the stream ended, once done is closed
	cancel context.CancelFunc
	// Close is the socket's close status and reason, once done is closed (WebSocket transports).
	CloseCode   websocket.StatusCode
	CloseReason string
}

// Next returns the next response, or false when the stream ended first or nothing came within
// wait (a guard against hanging, not a speed check).
func (s *Stream) Next(t testing.TB, wait time.Duration) (Response, bool) {
	t.Helper()
	select {
	case r := <-s.next:
		return r, true
	case <-s.done:
		select { // responses sent before the end still count
		case r := <-s.next:
			return r, true
		default:
			return Response{}, false
		}
	case <-time.After(wait):
		t.Fatalf("no subscription response within %v", wait)
		return Response{}, false
	}
}

// put queues a response for Next; false when the stream was closed while its buffer was full.
func (s *Stream) put(ctx context.Context, r Response) bool {
	select {
	case s.next <- r:
		return true
	case <-ctx.Done():
		return false
	}
}

// Pending reports whether a response is waiting or the stream ended.
func (s *Stream) Pending() bool {
	select {
	case <-s.done:
		return true
	default:
		return len(s.next) > 0
	}
}

// Done is closed when the stream ends; Err then says why (nil for a normal completion).
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err is why the stream ended.
func (s *Stream) Err() error { <-s.done; return s.err }

// Close ends the subscription from the client side.
func (s *Stream) Close() { s.cancel(); <-s.done }

// Subscribe starts a subscription over transport, signed in with c.Token (sent in the
// connection_init payload on WebSocket transports). It returns once the server acknowledged the
// connection (WebSocket) or answered the request (SSE). The stream closes when the test ends.
func (c GraphQL) Subscribe(t testing.TB, transport, query string, vars map[string]any) *Stream {
	t.Helper()
	s, err := c.TrySubscribe(t, transport, query, vars)
	if err != nil {
		t.Fatalf("subscribe over %s: %v", transport, err)
	}
	return s
}

// TrySubscribe is Subscribe for connections that may be refused: it returns the refusal (for
// WebSocket transports a websocket.CloseError with the server's code and reason).
func (c GraphQL) TrySubscribe(t testing.TB, transport, query string, vars map[string]any) (*Stream, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stream{next: make(chan Response, 64), done: make(chan struct{}), cancel: cancel}
	var err error
	if transport == TransportSSE {
		err = c.sse(ctx, s, query, vars)
	} else {
		err = c.websocket(ctx, s, transport, query, vars)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	t.Cleanup(s.Close)
	return s, nil
}

func (c GraphQL) sse(ctx context.Context, s *Stream, query string, vars map[string]any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := (&http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 10 * time.Second}}).Do(req)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return errors.New("status " + res.Status)
	}
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
				if event == "complete" {
					return
				}
			case strings.HasPrefix(line, "data:") && event == "next":
				var r Response
				if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))), &r); err != nil {
					s.err = err
					return
				}
				if !s.put(ctx, r) {
					return
				}
			}
		}
		s.err = sc.Err()
	}()
	return nil
}

// message is a frame of either WebSocket protocol.
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (c GraphQL) websocket(ctx context.Context, s *Stream, protocol, query string, vars map[string]any) error {
	url := "ws" + strings.TrimPrefix(c.URL, "http")
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol}})
	if err != nil {
		return err
	}
	conn.SetReadLimit(4 << 20)
	started := false
	defer func() {
		if !started {
			conn.CloseNow()
		}
	}()
	init := map[string]any{}
	if c.Token != "" {
		init["Authorization"] = "Bearer " + c.Token
	}
	payload, _ := json.Marshal(init)
	if err := wsjson.Write(ctx, conn, message{Type: "connection_init", Payload: payload}); err != nil {
		return err
	}
	for { // until the acknowledgement; a refusal closes the socket
		var m message
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return err
		}
		if m.Type == "connection_ack" {
			break
		}
	}
	start := "subscribe"
	if protocol == TransportLegacyWS {
		start = "start"
	}
	op, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(ctx, conn, message{ID: "1", Type: start, Payload: op}); err != nil {
		return err
	}
	started = true
	go func() {
		defer close(s.done)
		defer conn.CloseNow()
		for {
			var m message
			if err := wsjson.Read(ctx, conn, &m); err != nil {
				s.CloseCode, s.CloseReason = websocket.CloseStatus(err), closeReason(err)
				if s.CloseCode != websocket.StatusNormalClosure && ctx.Err() == nil {
					s.err = err
				}
				return
			}
			switch m.Type {
			case "next", "data":
				var r Response
				if err := json.Unmarshal(m.Payload, &r); err != nil {
					s.err = err
					return
				}
				if !s.put(ctx, r) {
					return
				}
			case "error":
				var errs []Error
				_ = json.Unmarshal(m.Payload, &errs)
				if !s.put(ctx, Response{Errors: errs}) {
					return
				}
			case "complete":
				// A server that ends the connection may complete its subscriptions first: read
				// on briefly for the close frame and its reason.
				closeCtx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				if err := wsjson.Read(closeCtx, conn, &m); err != nil {
					if code := websocket.CloseStatus(err); code != -1 {
						s.CloseCode, s.CloseReason = code, closeReason(err)
					}
				}
				return
			case "ping":
				_ = wsjson.Write(ctx, conn, message{Type: "pong"})
			}
		}
	}()
	return nil
}

func closeReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}
