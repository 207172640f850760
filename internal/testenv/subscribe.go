package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// The subscription transports Agora serves.
const (
	TransportWS        = "graphql-transport-ws" // the graphql-ws library's protocol
	TransportLegacyWS  = "graphql-ws"           // subscriptions-transport-ws, Apollo's former protocol
	TransportSSE       = "sse"                  // GraphQL over server-sent events: a POST per operation (graphql-sse's distinct connections)
	TransportSSEGet    = "sse-get"              // the same as a GET with the operation in the URL (Hive Gateway's default, EventSource)
	TransportSSESingle = "sse-single"           // graphql-sse's single-connection mode: PUT a stream, GET it, POST operations to it
	TransportMultipart = "multipart"            // Apollo Client's multipart HTTP subscriptions
)

// Transports lists them all, for tests that cover each.
var Transports = []string{TransportWS, TransportLegacyWS, TransportSSE, TransportSSEGet, TransportSSESingle, TransportMultipart}

// MultipartAccept is the Accept header Apollo Client 4 sends with a subscription over HTTP.
const MultipartAccept = "multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/graphql-response+json,application/json;q=0.9"

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
	switch transport {
	case TransportSSE, TransportSSEGet, TransportMultipart:
		err = c.stream(ctx, s, transport, query, vars)
	case TransportSSESingle:
		err = c.singleConnection(ctx, s, query, vars)
	default:
		err = c.websocket(ctx, s, transport, query, vars)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	t.Cleanup(s.Close)
	return s, nil
}

// httpClient is the client of streamed answers: a hang guard on the response headers, no limit on
// the body.
var httpClient = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 10 * time.Second}}

// stream subscribes with one HTTP request whose answer streams the events: server-sent events
// (POST or GET) or Apollo's multipart parts.
func (c GraphQL) stream(ctx context.Context, s *Stream, transport, query string, vars map[string]any) error {
	var req *http.Request
	var err error
	if transport == TransportSSEGet {
		q := url.Values{"query": {query}}
		if vars != nil {
			v, _ := json.Marshal(vars)
			q.Set("variables", string(v))
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"?"+q.Encode(), nil)
	} else {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if transport == TransportMultipart {
		req.Header.Set("Accept", MultipartAccept)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := httpClient.Do(req)
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
		if transport == TransportMultipart {
			s.err = readMultipart(ctx, s, res)
		} else {
			s.err = readEvents(ctx, s, res.Body, "")
		}
	}()
	return nil
}

// readEvents reads server-sent events until the stream completes: those of operation id only in
// single-connection mode (id not ""), whose data wrap the response as {"id", "payload"}.
func readEvents(ctx context.Context, s *Stream, body io.Reader, id string) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data := []byte(strings.TrimSpace(strings.TrimPrefix(line, "data:")))
			var wrapped struct {
				ID      string
				Payload json.RawMessage
			}
			if id != "" {
				if err := json.Unmarshal(data, &wrapped); err != nil {
					return err
				}
				if wrapped.ID != id {
					continue
				}
				data = wrapped.Payload
			}
			switch event {
			case "complete":
				return nil
			case "next":
				var r Response
				if err := json.Unmarshal(data, &r); err != nil {
					return err
				}
				if !s.put(ctx, r) {
					return nil
				}
			}
		}
	}
	return sc.Err()
}

// readMultipart reads Apollo's multipart subscription parts until the final boundary: {} parts
// are heart beats, the others hold {"payload": response}.
func readMultipart(ctx context.Context, s *Stream, res *http.Response) error {
	_, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" || params["subscriptionspec"] != "1.0" {
		return fmt.Errorf("not a multipart subscription: Content-Type %q", res.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(res.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var frame struct {
			Payload *Response
			Errors  []Error
		}
		if err := json.NewDecoder(part).Decode(&frame); err != nil {
			return err
		}
		switch {
		case frame.Payload != nil:
			if !s.put(ctx, *frame.Payload) {
				return nil
			}
		case len(frame.Errors) > 0: // a transport error: the subscription ends
			s.put(ctx, Response{Errors: frame.Errors})
			return nil
		}
	}
}

// singleConnection subscribes in graphql-sse's single-connection mode: it reserves a stream (PUT),
// opens it (GET), then sends the operation to it (POST, 202).
func (c GraphQL) singleConnection(ctx context.Context, s *Stream, query string, vars map[string]any) error {
	send := func(method, target string, body []byte, headers map[string]string) (*http.Response, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return nil, err
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		if c.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		return httpClient.Do(req)
	}
	res, err := send(http.MethodPut, c.URL, nil, nil)
	if err != nil {
		return err
	}
	token, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		return errors.New("PUT: status " + res.Status)
	}
	stream, err := send(http.MethodGet, c.URL, nil, map[string]string{"X-GraphQL-Event-Stream-Token": string(token), "Accept": "text/event-stream"})
	if err != nil {
		return err
	}
	if stream.StatusCode != http.StatusOK {
		stream.Body.Close()
		return errors.New("GET: status " + stream.Status)
	}
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars, "extensions": map[string]any{"operationId": "op-1"}})
	res, err = send(http.MethodPost, c.URL, body, map[string]string{"X-GraphQL-Event-Stream-Token": string(token),
		"Content-Type": "application/json; charset=utf-8"})
	if err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			err = errors.New("POST: status " + res.Status)
		}
	}
	if err != nil {
		stream.Body.Close()
		return err
	}
	go func() {
		defer close(s.done)
		defer stream.Body.Close()
		s.err = readEvents(ctx, s, stream.Body, "op-1")
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
