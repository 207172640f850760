package auth

import (
	"context"
	"net/http"
	"strings"
)

// Lookup returns the current state of a user (role, ban) as a Viewer; ok is false when the user no
// longer exists. It is called on every signed-in request, so it should be cached briefly.
type Lookup func(ctx context.Context, userID int) (v Viewer, ok bool, err error)

// Middleware puts the request's Viewer in its context: the bearer token's user in their current
// state, or anonymous when no Authorization header is sent. A token that does not verify, or whose
// user is gone, is answered 401 with a GraphQL error, so clients learn to sign in again instead of
// silently seeing anonymous data.
func Middleware(t *Tokens, lookup Lookup, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		id, err := t.Verify(strings.TrimSpace(token))
		if err != nil {
			unauthorized(w, err.Error())
			return
		}
		v, ok, err := lookup(r.Context(), id)
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
