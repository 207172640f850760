package auth

import (
	"net/http"
	"strings"
)

// Middleware puts the request's Viewer in its context: the bearer token's user, or anonymous when no
// Authorization header is sent. A token that does not verify is answered 401 with a GraphQL error, so
// clients learn to sign in again instead of silently seeing anonymous data.
func (t *Tokens) Middleware(next http.Handler) http.Handler {
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
		v, err := t.Verify(strings.TrimSpace(token))
		if err != nil {
			unauthorized(w, err.Error())
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
