package auth

import (
	"context"
	"net"
	"net/http"
	"strings"
)

// Lookup returns the current state of a signed-in session as a Viewer (role, ban); ok is false when
// the session was revoked or has expired, or the user is gone. It is called on every signed-in
// request, so it should be cached briefly.
type Lookup func(ctx context.Context, userID, sessionID int) (v Viewer, ok bool, err error)

// Middleware puts the request's Viewer in its context: the bearer token's user in their current
// state, or anonymous when no Authorization header is sent. A token that does not verify, or whose
// user is gone, is answered 401 with a GraphQL error, so clients learn to sign in again instead of
// silently seeing anonymous data.
func Middleware(t *Tokens, lookup Lookup, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), userAgentKey{}, r.UserAgent())
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			ctx = context.WithValue(ctx, clientIPKey{}, host)
		}
		r = r.WithContext(ctx)
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			unauthorized(w, "Authorization header must be: Bearer <access token>")
			return
		}
		userID, sessionID, err := t.Verify(strings.TrimSpace(token))
		if err != nil {
			unauthorized(w, err.Error())
			return
		}
		v, ok, err := lookup(r.Context(), userID, sessionID)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"errors":[{"message":"cannot check the access token now, retry later","extensions":{"code":"SERVICE_UNAVAILABLE"}}]}`))
			return
		}
		if !ok {
			unauthorized(w, ErrInvalidToken.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(WithViewer(r.Context(), v)))
	})
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"errors":[{"message":"` + msg + `","extensions":{"code":"UNAUTHENTICATED"}}]}`))
}

type userAgentKey struct{}

// UserAgent returns the User-Agent of the request, recorded on the sessions it signs in.
func UserAgent(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return ua
}

type clientIPKey struct{}

// ClientIP returns the address the request came from (the peer: no proxy headers are trusted yet),
// which sign-in attempts are limited by.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
