package auth

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// CookieOptions describe the refresh-token cookie of browser sessions (AGORA_REFRESH_COOKIE).
type CookieOptions struct {
	Name   string // e.g. agora_refresh
	Path   string // the only path the browser sends it to: the GraphQL endpoint
	Secure bool   // HTTPS only (production)
}

// refreshCookie is one request's view of the refresh-token cookie: the token it came with, and
// the response to set a new one on.
type refreshCookie struct {
	opts    CookieOptions
	token   string
	w       http.ResponseWriter // nil on WebSocket upgrades: a socket's frames cannot set cookies
	mu      sync.Mutex
	written bool
}

type refreshCookieKey struct{}

// RefreshCookies turns cookie mode on for the requests next serves: the refresh token travels
// in an HttpOnly, SameSite=Strict cookie scoped to o.Path, which page scripts cannot read and other
// sites' pages cannot make the browser send, rather than in response bodies (see
// RefreshTokenCookie, SetRefreshCookie). Requests pass it before batching, so each operation of a
// batch sets the one response's cookie.
func RefreshCookies(o CookieOptions, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &refreshCookie{opts: o, w: w}
		if r.Header.Get("Upgrade") != "" {
			c.w = nil
		}
		if v, err := r.Cookie(o.Name); err == nil {
			c.token = v.Value
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), refreshCookieKey{}, c)))
	})
}

// RefreshTokenCookie returns the refresh token the request's cookie holds, and whether cookie
// mode is on.
func RefreshTokenCookie(ctx context.Context) (token string, on bool) {
	c, _ := ctx.Value(refreshCookieKey{}).(*refreshCookie)
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, true
}

// SetRefreshCookie puts a new refresh token in the response's cookie, to live until expires, and
// reports whether cookie mode is on: then the token must not be in the response body as well.
// An empty token clears the cookie (logout, an ended session).
func SetRefreshCookie(ctx context.Context, token string, expires time.Time) (on bool) {
	c, _ := ctx.Value(refreshCookieKey{}).(*refreshCookie)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil || c.token == "" && token == "" && !c.written {
		return true // nothing to clear, or no response headers to set it on
	}
	cookie := &http.Cookie{Name: c.opts.Name, Value: token, Path: c.opts.Path, Secure: c.opts.Secure,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Expires: expires.UTC()}
	if token == "" {
		cookie.Expires, cookie.MaxAge = time.Unix(0, 0), -1
	}
	h := c.w.Header()
	// One Set-Cookie per response for this cookie: the last operation of a batch decides.
	kept := h.Values("Set-Cookie")[:0:0]
	for _, v := range h.Values("Set-Cookie") {
		if parsed, err := http.ParseSetCookie(v); err != nil || parsed.Name != c.opts.Name {
			kept = append(kept, v)
		}
	}
	h.Del("Set-Cookie")
	for _, v := range kept {
		h.Add("Set-Cookie", v)
	}
	http.SetCookie(c.w, cookie)
	c.token, c.written = token, true
	return true
}
