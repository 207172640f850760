package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
)

// cacheControl marks GET answers for shared caches (CDNs): an anonymous query answered without
// errors may be kept for maxAge; anything else must not be stored, since it depends on who asked
// or on a transient failure. Answers vary by Authorization, so a cache never hands one viewer's
// answer to another.
func cacheControl(maxAge int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Authorization")
		verdict := &cacheable{}
		next.ServeHTTP(&cacheHeaders{ResponseWriter: w, public: func() bool {
			return maxAge > 0 && r.Header.Get("Authorization") == "" && verdict.ok
		}, maxAge: maxAge}, r.WithContext(context.WithValue(r.Context(), cacheableKey{}, verdict)))
	})
}

type cacheableKey struct{}

// cacheable is set by the GraphQL layer once the response is known.
type cacheable struct{ ok bool }

// markCacheable records whether a response may be shared: data and no errors.
func markCacheable(ctx context.Context, resp *graphql.Response) {
	if c, ok := ctx.Value(cacheableKey{}).(*cacheable); ok && resp != nil {
		c.ok = len(resp.Errors) == 0 && resp.Data != nil
	}
}

type cacheHeaders struct {
	http.ResponseWriter
	public func() bool
	maxAge int
	wrote  bool
}

// Unwrap lets http.ResponseController reach the connection (flushes, deadlines).
func (w *cacheHeaders) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes through.
func (w *cacheHeaders) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *cacheHeaders) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code == http.StatusOK && w.public() {
			w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(w.maxAge))
		} else {
			w.Header().Set("Cache-Control", "no-store")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cacheHeaders) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
