package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/httpx"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/telemetry"
)

// Realtime configures subscriptions over WebSocket (graphql-transport-ws and the legacy
// graphql-ws protocol) and server-sent events.
type Realtime struct {
	// Authenticate resolves an Authorization value to its viewer in their current state.
	Authenticate func(ctx context.Context, authorization string) (auth.Viewer, error)
	// AllowedOrigins are the host patterns (path.Match syntax) of the pages that may open sockets
	// from another origin; same-origin pages and non-browser clients always may.
	AllowedOrigins []string
	// MaxSubscriptions caps the subscriptions one connection runs at once.
	MaxSubscriptions int
	// Recheck is how often a socket's token and session are checked again: a connection whose
	// token expired or whose session was revoked is closed.
	Recheck time.Duration
	// KeepAlive is the interval of keep-alive messages.
	KeepAlive time.Duration

	conns *connections // caps on the connections a client holds open

	metrics *telemetry.Metrics // Deps.Metrics: open connections
}

// Close codes for sockets we end, in the 4000-4999 range applications own.
const (
	closeUnauthorized = 4401 // the token did not verify, expired, or its session ended
	closeSlowConsumer = 4429 // events overflowed the subscriber's buffer
	closeTooMany      = 4429 // the user signed in by connection_init holds as many connections as they may
	closeUnavailable  = 4503
)

// socket is the state of one WebSocket connection, from upgrade to close.
type socket struct {
	mu     sync.Mutex
	code   int
	reason string
	cancel context.CancelFunc
	subs   atomic.Int32
	slot   *slot // its place under the caps on connections
}

type socketKey struct{}

func socketFrom(ctx context.Context) *socket {
	s, _ := ctx.Value(socketKey{}).(*socket)
	return s
}

// end closes the connection with a code and reason the client can read (its subscriptions may
// report "complete" just before). Its place under the caps is given back first, so that a client
// that reconnects on reading the close finds it.
func (s *socket) end(code int, reason string) {
	s.slot.close()
	s.mu.Lock()
	if s.code == 0 {
		s.code, s.reason = code, reason
	}
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// websocket returns the WebSocket transport for rt.
func (rt Realtime) websocket() transport.Websocket {
	return transport.Websocket{
		Implementation:        socketAcceptor{},
		InitFunc:              rt.init,
		InitTimeout:           10 * time.Second,
		KeepAlivePingInterval: rt.KeepAlive,
		PingPongInterval:      rt.KeepAlive,
	}
}

// init authenticates a connection from its connection_init payload (or, failing that, the
// upgrade request's Authorization header, already checked by the HTTP middleware), then watches
// its session for as long as it stays open.
func (rt Realtime) init(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	s := socketFrom(ctx)
	if h := payload.Authorization(); h != "" {
		v, err := rt.Authenticate(ctx, h)
		if err != nil {
			code := closeUnauthorized
			if errors.Is(err, auth.ErrLookup) {
				code = closeUnavailable
			}
			s.slot.close() // before the close frame, as in end
			ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, code), err.Error())
			return ctx, nil, err
		}
		if v.Authenticated() {
			if refusal := s.slot.signIn(v.UserID); refusal != nil {
				s.slot.close()
				ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, closeTooMany), refusal.Error())
				return ctx, nil, refusal
			}
		}
		ctx = auth.WithViewer(ctx, v)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	ctx = live.WithDisconnect(ctx, func(reason error) { s.end(closeSlowConsumer, reason.Error()) })
	authorization := payload.Authorization()
	if authorization == "" {
		authorization = auth.Authorization(ctx) // the upgrade request's, checked by the HTTP middleware
	}
	if authorization != "" {
		go rt.watch(ctx, s, auth.FromContext(ctx), authorization)
	}
	return ctx, nil, nil
}

// watch closes a signed-in connection once its token or session no longer holds, or the
// viewer's role or ban changed (the client reconnects to get its new rights).
func (rt Realtime) watch(ctx context.Context, s *socket, v auth.Viewer, authorization string) {
	t := time.NewTicker(rt.Recheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := rt.Authenticate(ctx, authorization)
		switch {
		case errors.Is(err, auth.ErrLookup):
			continue // the database is unreachable: keep serving, check again later
		case err != nil:
			s.end(closeUnauthorized, "session ended: "+err.Error())
			return
		case now != v:
			s.end(closeUnauthorized, "the account's role or standing changed: reconnect")
			return
		}
	}
}

// subscriptionCap refuses a connection's subscriptions beyond max, and counts them down as they
// end.
type subscriptionCap struct{ max int }

func (subscriptionCap) ExtensionName() string                   { return "SubscriptionCap" }
func (subscriptionCap) Validate(graphql.ExecutableSchema) error { return nil }
func (c subscriptionCap) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	s := socketFrom(ctx)
	if s == nil || !isSubscription(ctx) {
		return next(ctx)
	}
	if int(s.subs.Add(1)) > c.max {
		s.subs.Add(-1)
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message:    fmt.Sprintf("at most %d subscriptions per connection: stop one first", c.max),
			Extensions: map[string]any{"code": apperr.RateLimited.Code()},
		}}})
	}
	responses := next(ctx)
	var once sync.Once
	return func(ctx context.Context) *graphql.Response {
		r := responses(ctx)
		if r == nil {
			once.Do(func() { s.subs.Add(-1) })
		}
		return r
	}
}

// socketAcceptor accepts WebSocket upgrades (streams has checked their origin), and closes
// connections with the code and reason their socket state holds.
type socketAcceptor struct{}

func (socketAcceptor) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	// Origins are streams' business: coder's own check would refuse the patterns it allowed.
	conn, err := transport.CoderWebsocketImplementation{
		AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true},
	}.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	return closingConn{WebsocketConn: conn, socket: socketFrom(r.Context())}, nil
}

// closingConn replaces gqlgen's generic close ("terminated") by the socket's own code and reason.
type closingConn struct {
	transport.WebsocketConn
	socket *socket
}

func (c closingConn) WriteClose(code int, reason string) error {
	c.socket.mu.Lock()
	if c.socket.code != 0 {
		code, reason = c.socket.code, c.socket.reason
	}
	c.socket.mu.Unlock()
	if len(reason) > 123 { // the most a close frame carries
		reason = reason[:123]
	}
	return c.WebsocketConn.WriteClose(code, reason)
}

// streams prepares long-lived requests: WebSocket upgrades from allowed origins get their socket
// state (others are refused here, before gqlgen logs a failed upgrade). GETs asking for an event
// stream follow the same origin rule: CSRF prevention lets them pass (httpx.PreventCSRF), since a
// page can only send them from a script, and a script's cross-origin request names its Origin or
// is a no-cors request, which could not read the stream anyway and is refused. Sockets and event
// streams take a place under the caps on open connections, or are refused with 429. (Streamed
// answers lift the server's write timeout themselves: startStream.)
func (rt Realtime) streams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Upgrade") != "":
			if !rt.originAllowed(r) {
				httpx.WriteError(w, r, http.StatusForbidden, apperr.CodeForbidden, "this origin may not open sockets: see AGORA_ALLOWED_ORIGINS", nil)
				return
			}
			slot, refusal := rt.conns.open(r.Context())
			if refusal != nil {
				refusal.write(w, r)
				return
			}
			// The transport serves the connection in this call, from upgrade to close.
			defer slot.close()
			r = r.WithContext(context.WithValue(r.Context(), socketKey{}, &socket{slot: slot}))
			rt.metrics.SocketOpened()
			defer rt.metrics.SocketClosed()
		case httpx.AsksEventStream(r):
			if r.Method == http.MethodGet && (!rt.originAllowed(r) || crossSiteNoCORS(r)) {
				httpx.WriteError(w, r, http.StatusForbidden, apperr.CodeForbidden, "this origin may not open event streams: see AGORA_ALLOWED_ORIGINS", nil)
				return
			}
			slot, refusal := rt.conns.open(r.Context())
			if refusal != nil {
				refusal.write(w, r)
				return
			}
			defer slot.close()
		}
		next.ServeHTTP(w, r)
	})
}

// crossSiteNoCORS reports a browser's no-cors request from another origin (Fetch Metadata): it can
// carry any Accept but no Origin, and its page cannot read the answer.
func crossSiteNoCORS(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	return r.Header.Get("Sec-Fetch-Mode") == "no-cors" && site != "" && site != "same-origin" && site != "none"
}

// originAllowed applies the WebSocket origin rule: non-browser clients (no Origin), the API's own
// host, and the hosts AllowedOrigins match.
func (rt Realtime) originAllowed(r *http.Request) bool {
	return httpx.OriginAllowed(rt.AllowedOrigins, r)
}
