package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/httpx"
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
		if ip := httpx.ClientAddr(ctx); ip != "" { // behind trusted proxies (httpx.Proxied)
			ctx = context.WithValue(ctx, clientIPKey{}, ip)
		} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			ctx = context.WithValue(ctx, clientIPKey{}, host)
		}
		r = r.WithContext(ctx)
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		v, err := Authenticate(r.Context(), t, lookup, h)
		switch {
		case errors.Is(err, ErrLookup):
			httpx.WriteError(w, r, http.StatusServiceUnavailable, apperr.CodeUnavailable, ErrLookup.Error(), nil)
			return
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			httpx.WriteError(w, r, http.StatusUnauthorized, apperr.CodeUnauthenticated, err.Error(), nil)
			return
		}
		httpx.Note(r.Context()).Viewer(v.UserID)
		ctx = context.WithValue(WithViewer(r.Context(), v), authorizationKey{}, h)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type authorizationKey struct{}

// Authorization returns the Authorization header the request's viewer was authenticated with, for
// connections that check it again while they stay open.
func Authorization(ctx context.Context) string {
	h, _ := ctx.Value(authorizationKey{}).(string)
	return h
}

// ErrLookup means the token's session could not be checked now: retry later.
var ErrLookup = errors.New("cannot check the access token now, retry later")

// Authenticate resolves an Authorization value ("Bearer <access token>") to its viewer in their
// current state: ErrInvalidToken (or a message about the header's form) when it does not verify or
// its session is gone, ErrLookup when the session cannot be checked now.
func Authenticate(ctx context.Context, t *Tokens, lookup Lookup, header string) (Viewer, error) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Viewer{}, errors.New("Authorization header must be: Bearer <access token>")
	}
	userID, sessionID, err := t.Verify(strings.TrimSpace(token))
	if err != nil {
		return Viewer{}, err
	}
	v, ok, err := lookup(ctx, userID, sessionID)
	if err != nil {
		return Viewer{}, fmt.Errorf("%w: %w", ErrLookup, err)
	}
	if !ok {
		return Viewer{}, ErrInvalidToken
	}
	return v, nil
}

type userAgentKey struct{}

// UserAgent returns the User-Agent of the request, recorded on the sessions it signs in.
func UserAgent(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return ua
}

type clientIPKey struct{}

// ClientIP returns the address the request came from — the peer, or behind trusted proxies
// (AGORA_TRUSTED_PROXIES) the client they name — which rate limits and sign-in attempts are
// counted by.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
