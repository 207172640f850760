package ratelimit

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/httpx"
)

// Middleware takes one event per request from the budget that key names (e.g. the signed-in
// user's or the client address's) and reports it in the IETF draft's RateLimit-Limit,
// RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy headers. A request past its budget
// is answered 429 with Retry-After and a GraphQL error coded RATE_LIMITED, and goes no further.
// When the limiter fails the request goes on: an outage must not take the API down.
func Middleware(l Limiter, key func(*http.Request) (string, Limit)) func(next http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return limited(l, key, next) }
}

// The headers' names as net/http keeps them (canonical), so that setting them copies no name.
var (
	headerLimit     = http.CanonicalHeaderKey("RateLimit-Limit")
	headerRemaining = http.CanonicalHeaderKey("RateLimit-Remaining")
	headerReset     = http.CanonicalHeaderKey("RateLimit-Reset")
	headerPolicy    = http.CanonicalHeaderKey("RateLimit-Policy")
)

func limited(l Limiter, key func(*http.Request) (string, Limit), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, limit := key(r)
		res, err := l.Allow(r.Context(), k, limit)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set(headerLimit, strconv.Itoa(limit.Burst))
		h.Set(headerRemaining, strconv.Itoa(res.Remaining))
		h.Set(headerReset, strconv.Itoa(seconds(res.ResetAfter)))
		h.Set(headerPolicy, strconv.Itoa(limit.Burst)+";w="+strconv.Itoa(seconds(limit.Per)))
		if res.Allowed {
			next.ServeHTTP(w, r)
			return
		}
		retry := max(1, seconds(res.RetryAfter))
		h.Set("Retry-After", strconv.Itoa(retry))
		httpx.WriteError(w, r, http.StatusTooManyRequests, apperr.CodeRateLimited, "too many requests: retry later",
			map[string]any{"retryAfterSeconds": retry})
	})
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
