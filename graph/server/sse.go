package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/httpx"
)

// graphql-sse's single-connection mode: a client reserves a stream (PUT, answered 201 with a
// token), opens it (GET with Accept: text/event-stream and the token), then sends operations to it
// (POST with the token and an operationId in extensions, answered 202) and stops them (DELETE
// ?operationId=…). Every operation's responses come through the one stream, as next events whose
// data is {"id", "payload"}, then a complete event {"id"}. The token travels in the
// X-GraphQL-Event-Stream-Token header or the token query parameter.
//
// Streams live in the process that reserved them: behind a load balancer, a client's requests must
// reach the same replica (sticky sessions), or use distinct connections (one stream per operation,
// served by any replica).
const (
	streamTokenHeader = "X-GraphQL-Event-Stream-Token"
	streamTokenParam  = "token"
	// reservationTTL is how long a reserved stream waits to be opened before it is dropped.
	reservationTTL = 30 * time.Second
	// streamBuffer is how many responses wait for a stream that is not open yet, or that its
	// client reads slowly; operations wait beyond it.
	streamBuffer = 64
)

// streamToken is the token of a request in single-connection mode, "" for other requests.
func streamToken(r *http.Request) string {
	if t := r.Header.Get(streamTokenHeader); t != "" {
		return t
	}
	return r.URL.Query().Get(streamTokenParam)
}

// reservedStream is one single-connection stream, from its reservation to the end of its GET.
type reservedStream struct {
	ctx    context.Context // ends with the stream: its operations end too
	cancel context.CancelFunc
	frames chan streamFrame
	socket *socket // counts the stream's subscriptions against AGORA_MAX_SUBSCRIPTIONS

	mu   sync.Mutex
	open bool
	ops  map[string]context.CancelFunc
}

// streamFrame is a response of operation id, or its end (resp nil).
type streamFrame struct {
	id   string
	resp *graphql.Response
}

// send queues a frame for the stream's reader; false when the stream ended first.
func (s *reservedStream) send(ctx context.Context, f streamFrame) bool {
	select {
	case s.frames <- f:
		return true
	case <-ctx.Done():
		return false
	}
}

// singleConnection is the transport of graphql-sse's single-connection mode.
type singleConnection struct {
	rt Realtime
	*reservedStreams
}

// reservedStreams are this process's single-connection streams, by token.
type reservedStreams struct {
	mu      sync.Mutex
	streams map[string]*reservedStream
	closed  bool
}

func newReservedStreams() *reservedStreams {
	return &reservedStreams{streams: map[string]*reservedStream{}}
}

// close ends every stream, and refuses new ones: the server is stopping.
func (t *reservedStreams) close() {
	t.mu.Lock()
	t.closed = true
	streams := t.streams
	t.streams = map[string]*reservedStream{}
	t.mu.Unlock()
	for _, s := range streams {
		s.cancel()
	}
}

func (singleConnection) Supports(r *http.Request) bool {
	switch r.Method {
	case http.MethodPut, http.MethodDelete:
		return r.Header.Get("Upgrade") == ""
	case http.MethodGet, http.MethodPost:
		return r.Header.Get("Upgrade") == "" && streamToken(r) != ""
	}
	return false
}

func (t singleConnection) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if r.Method == http.MethodPut {
		t.reserve(w, r)
		return
	}
	token := streamToken(r)
	t.mu.Lock()
	s := t.streams[token]
	t.mu.Unlock()
	if s == nil {
		httpx.WriteError(w, r, http.StatusNotFound, apperr.CodeNotFound,
			"no event stream with this token: reserve one with PUT (its token expires unless the stream is opened within 30 s)", nil)
		return
	}
	switch r.Method {
	case http.MethodGet:
		t.serve(w, r, token, s)
	case http.MethodPost:
		t.operate(w, r, exec, s)
	case http.MethodDelete:
		id := r.URL.Query().Get("operationId")
		if id == "" {
			httpx.WriteError(w, r, http.StatusBadRequest, apperr.CodeBadRequest, "the operationId query parameter is missing", nil)
			return
		}
		s.mu.Lock()
		if stop := s.ops[id]; stop != nil {
			stop()
		}
		s.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
}

// reserve answers PUT: a new stream's token, 201.
func (t singleConnection) reserve(w http.ResponseWriter, r *http.Request) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	ctx, cancel := context.WithCancel(context.Background())
	s := &reservedStream{ctx: ctx, cancel: cancel, frames: make(chan streamFrame, streamBuffer), socket: &socket{}, ops: map[string]context.CancelFunc{}}
	t.mu.Lock()
	closed := t.closed
	if !closed {
		t.streams[token] = s
	}
	t.mu.Unlock()
	if closed {
		cancel()
		httpx.WriteError(w, r, http.StatusServiceUnavailable, apperr.CodeUnavailable, "the server is shutting down: retry on another", nil)
		return
	}
	time.AfterFunc(reservationTTL, func() {
		s.mu.Lock()
		open := s.open
		s.mu.Unlock()
		if !open {
			t.drop(token, s)
		}
	})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(token))
}

// drop ends a stream and its operations and forgets its token.
func (t *reservedStreams) drop(token string, s *reservedStream) {
	t.mu.Lock()
	if t.streams[token] == s {
		delete(t.streams, token)
	}
	t.mu.Unlock()
	s.cancel()
}

// serve answers the GET that opens a stream: every frame of its operations until the client
// leaves; then the stream and its operations end.
func (t singleConnection) serve(w http.ResponseWriter, r *http.Request, token string, s *reservedStream) {
	if !httpx.AsksEventStream(r) {
		httpx.WriteError(w, r, http.StatusNotAcceptable, apperr.CodeNotAcceptable, "open the stream with Accept: text/event-stream", nil)
		return
	}
	s.mu.Lock()
	open := s.open
	s.open = true
	s.mu.Unlock()
	if open {
		httpx.WriteError(w, r, http.StatusConflict, apperr.CodeConflict, "this event stream is open already", nil)
		return
	}
	defer t.drop(token, s)
	es := startStream(w, formatSSE)
	stop := es.beat(t.rt.KeepAlive)
	defer stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case f := <-s.frames:
			var err error
			if f.resp == nil {
				err = es.complete(f.id)
			} else {
				err = es.next(f.id, f.resp)
			}
			if err != nil {
				return
			}
		}
	}
}

// operate answers a POST to a stream: the operation runs with the POST's credentials and its
// responses go to the stream; the POST itself is answered 202 at once. A request that fails before
// it runs is 202 too, its errors the operation's one event: the client gets them where it listens.
func (t singleConnection) operate(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, s *reservedStream) {
	start := graphql.Now()
	params, msg := readParams(r)
	if msg != "" {
		httpx.WriteError(w, r, http.StatusBadRequest, apperr.CodeBadRequest, msg, nil)
		return
	}
	id, _ := params.Extensions["operationId"].(string)
	if id == "" {
		httpx.WriteError(w, r, http.StatusBadRequest, apperr.CodeBadRequest, "extensions.operationId is missing: single-connection mode names each operation", nil)
		return
	}
	s.mu.Lock()
	_, taken := s.ops[id]
	ctx, cancel := context.WithCancel(context.WithValue(context.WithoutCancel(r.Context()), socketKey{}, s.socket))
	if !taken {
		s.ops[id] = cancel
	}
	s.mu.Unlock()
	if taken {
		cancel()
		httpx.WriteError(w, r, http.StatusConflict, apperr.CodeConflict, "an operation with this operationId runs on the stream already", nil)
		return
	}
	stopWithStream := context.AfterFunc(s.ctx, cancel)
	ended := t.rt.watchViewer(ctx, cancel)
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	oc, errs := exec.CreateOperationContext(ctx, params)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
	go func() {
		defer func() {
			stopWithStream()
			cancel()
			s.mu.Lock()
			delete(s.ops, id)
			s.mu.Unlock()
		}()
		var responses graphql.ResponseHandler
		opCtx := ctx
		switch {
		case errs != nil:
			opCtx = graphql.WithOperationContext(ctx, oc)
			responses = graphql.OneShot(exec.DispatchError(opCtx, errs))
		default:
			responses, opCtx = exec.DispatchOperation(ctx, oc)
		}
		for {
			resp := responses(opCtx)
			if resp == nil {
				break
			}
			if !s.send(ctx, streamFrame{id: id, resp: resp}) {
				return
			}
		}
		if s.ctx.Err() != nil {
			return
		}
		if why := ended(); why != "" {
			s.send(s.ctx, streamFrame{id: id, resp: endedResponse(why)})
		}
		s.send(s.ctx, streamFrame{id: id}) // complete, also after a DELETE, as graphql-sse's own server does
	}()
}
