package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
)

// multipartHeartbeat is how often an Apollo multipart subscription gets an empty part ({}) while
// no event comes: the interval Apollo's protocol names.
const multipartHeartbeat = 5 * time.Second

// multipartBoundary separates the parts of a multipart subscription.
const multipartBoundary = "graphql"

// eventStream writes the frames of one HTTP response that streams GraphQL responses: server-sent
// events (graphql-sse's protocol) or Apollo's multipart subscription parts. Writes are serialised:
// heart beats come from their own goroutine.
type eventStream struct {
	mu     sync.Mutex
	w      io.Writer
	rc     *http.ResponseController
	format format
	err    error // the first write that failed: the client is gone
}

// startStream begins a streamed answer: it lifts the write deadline (sized for ordinary requests),
// writes the headers and the stream's first bytes and flushes them at once, so the client knows
// its request was taken before any event comes.
func startStream(w http.ResponseWriter, f format) *eventStream {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	switch f {
	case formatMultipart:
		h.Set("Content-Type", fmt.Sprintf(`multipart/mixed;boundary="%s";subscriptionSpec="1.0"`, multipartBoundary))
	default:
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies such as nginx pass the stream on as it comes
	w.WriteHeader(http.StatusOK)
	s := &eventStream{w: w, rc: rc, format: f}
	if f == formatMultipart {
		s.write("\r\n--" + multipartBoundary)
	} else {
		s.write(":\n\n") // a comment: some browsers wait for a first byte before reporting the stream open
	}
	return s
}

func (s *eventStream) write(frame string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, err := io.WriteString(s.w, frame); err != nil {
		s.err = err
		return err
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
	}
	return s.err
}

// next sends a response. id is the operation's in graphql-sse's single-connection mode, "" for a
// stream of one operation.
func (s *eventStream) next(id string, resp *graphql.Response) error {
	var payload any = resp
	switch {
	case s.format == formatMultipart:
		payload = struct {
			Payload *graphql.Response `json:"payload"`
		}{resp}
	case id != "":
		payload = struct {
			ID      string            `json:"id"`
			Payload *graphql.Response `json:"payload"`
		}{id, resp}
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	if s.format == formatMultipart {
		return s.write("\r\nContent-Type: application/json; charset=utf-8\r\n\r\n" + string(b) + "\r\n--" + multipartBoundary)
	}
	return s.write("event: next\ndata: " + string(b) + "\n\n")
}

// complete ends an operation: for a stream of one operation, the stream.
func (s *eventStream) complete(id string) error {
	switch {
	case s.format == formatMultipart:
		return s.write("--\r\n")
	case id != "":
		b, _ := json.Marshal(map[string]string{"id": id})
		return s.write("event: complete\ndata: " + string(b) + "\n\n")
	}
	return s.write("event: complete\ndata:\n\n")
}

// heartbeat keeps the connection from looking idle to proxies and clients.
func (s *eventStream) heartbeat() error {
	if s.format == formatMultipart {
		return s.write("\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{}\r\n--" + multipartBoundary)
	}
	return s.write(":\n\n")
}

// beat sends heart beats every interval until stop is called; stop returns once they ended, so
// that nothing is written after it.
func (s *eventStream) beat(interval time.Duration) (stop func()) {
	if interval <= 0 {
		return func() {}
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if s.heartbeat() != nil {
					return
				}
			}
		}
	}()
	return sync.OnceFunc(func() {
		close(done)
		<-stopped
	})
}

// watchViewer ends a streamed operation (cancel) once the token or session it was sent with no
// longer holds, or its viewer's role or standing changed, checked every AGORA_SOCKET_RECHECK as
// sockets are (watch). ended is why it was ended, "" while it was not.
func (rt Realtime) watchViewer(ctx context.Context, cancel context.CancelFunc) (ended func() string) {
	authorization := auth.Authorization(ctx)
	if authorization == "" || rt.Authenticate == nil || rt.Recheck <= 0 {
		return func() string { return "" }
	}
	s := &socket{cancel: cancel}
	go rt.watch(ctx, s, auth.FromContext(ctx), authorization)
	return func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.reason
	}
}

// endedResponse tells a stream's client why its operation was ended.
func endedResponse(why string) *graphql.Response {
	return &graphql.Response{Errors: gqlerror.List{codedError(why, apperr.CodeUnauthenticated)}}
}

// serveStream answers one operation as a stream in format f: each response of dispatch, then the
// end of the stream. It returns when the operation has no more responses or the client left.
func (rt Realtime) serveStream(w http.ResponseWriter, r *http.Request, f format,
	dispatch func(context.Context) (graphql.ResponseHandler, context.Context)) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ended := rt.watchViewer(ctx, cancel)
	s := startStream(w, f)
	interval := rt.KeepAlive
	if f == formatMultipart {
		interval = multipartHeartbeat
	}
	stop := s.beat(interval)
	defer stop()
	responses, ctx := dispatch(ctx)
	for {
		resp := responses(ctx)
		if resp == nil {
			break
		}
		if s.next("", resp) != nil {
			return // the client is gone: returning cancels the operation
		}
	}
	stop()
	if why := ended(); why != "" {
		_ = s.next("", endedResponse(why))
	}
	_ = s.complete("")
}
