package server_test

import (
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// newLimitedAPI is Agora on SQLite with the rate limits configure sets.
func newLimitedAPI(t *testing.T, rdb redis.UniversalClient, configure func(*config.Config)) *api {
	t.Helper()
	db := openDB(t, database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return startAPIWith(t, db, rdb, configure)
}

// budgetResponse is one request's answer as the request-level budget reports it.
type budgetResponse struct {
	status                                 int
	limit, remaining, reset, retry, policy string
	body                                   testenv.Response
}

func request(t *testing.T, a *api, token string) budgetResponse {
	t.Helper()
	headers := map[string]string{}
	if token != "" {
		headers["Authorization"] = "Bearer " + token
	}
	res, body := httpPostJSON(t, a.srv.URL+"/graphql", headers, map[string]any{"query": `{ users(first: 1) { totalCount } }`})
	h := res.Header
	return budgetResponse{status: res.StatusCode, limit: h.Get("RateLimit-Limit"), remaining: h.Get("RateLimit-Remaining"),
		reset: h.Get("RateLimit-Reset"), retry: h.Get("Retry-After"), policy: h.Get("RateLimit-Policy"), body: decodeGraphQL(t, body)}
}

// wantRefused checks a 429 answer: RATE_LIMITED with the retry time in extensions and Retry-After.
func wantRefused(t *testing.T, r budgetResponse, retry int) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || len(r.body.Errors) != 1 || r.body.Errors[0].Code() != "RATE_LIMITED" {
		t.Fatalf("want 429 RATE_LIMITED, got %d %+v", r.status, r.body.Errors)
	}
	got, _ := r.body.Errors[0].Extensions["retryAfterSeconds"].(float64)
	if !about(int(got), retry) || r.retry != strconv.Itoa(int(got)) || r.remaining != "0" {
		t.Fatalf("retryAfterSeconds %v, Retry-After %q, RateLimit-Remaining %q; want about %d, the same, 0", got, r.retry, r.remaining, retry)
	}
}

// about allows for the seconds a slow machine spends between the requests of a test: budgets
// count from the first request.
func about(got, want int) bool { return got <= want && got > want-10 }

func aboutHeader(got string, want int) bool {
	n, err := strconv.Atoi(got)
	return err == nil && about(n, want)
}

// TestRequestRateLimit: every /graphql request takes one event from its caller's budget — the
// client address's when anonymous, the user's when signed in — reported in RateLimit headers;
// past it the answer is 429 with Retry-After.
func TestRequestRateLimit(t *testing.T) {
	t.Parallel()
	a := newLimitedAPI(t, nil, func(c *config.Config) {
		c.RateLimits.RequestsPerIP, c.RateLimits.RequestsPerUser = budget(t, "3/1h"), budget(t, "2/1h")
	})
	ada := a.register(t, "ada") // the address's first request

	for i, want := range []string{"1", "0"} {
		r := request(t, a, "")
		if r.status != http.StatusOK || len(r.body.Errors) > 0 {
			t.Fatalf("anonymous request %d: %d %+v", i+2, r.status, r.body.Errors)
		}
		// 3 per hour: one every 20 minutes; the bucket is whole again (i+2)×20 minutes on.
		if r.limit != "3" || r.remaining != want || !aboutHeader(r.reset, (i+2)*1200) || r.policy != "3;w=3600" {
			t.Fatalf("anonymous request %d: RateLimit-Limit %q Remaining %q Reset %q Policy %q", i+2, r.limit, r.remaining, r.reset, r.policy)
		}
	}
	wantRefused(t, request(t, a, ""), 1200)

	// The signed-in user has a budget of their own, untouched by the address's.
	for i, want := range []string{"1", "0"} {
		if r := request(t, a, ada.Token); r.status != http.StatusOK || r.limit != "2" || r.remaining != want {
			t.Fatalf("ada's request %d: %d, RateLimit-Limit %q Remaining %q", i+1, r.status, r.limit, r.remaining)
		}
	}
	wantRefused(t, request(t, a, ada.Token), 1800)
	wantRefused(t, request(t, a, ""), 1200) // still
}

// TestRateLimitSharedByReplicas: with Redis, two replicas draw on one budget per caller.
func TestRateLimitSharedByReplicas(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	four := func(c *config.Config) { c.RateLimits.RequestsPerIP = budget(t, "4/1h") }
	a, b := newLimitedAPI(t, rdb, four), newLimitedAPI(t, rdb, four)
	for i, on := range []*api{a, b, a, b} {
		if r := request(t, on, ""); r.status != http.StatusOK || r.remaining != strconv.Itoa(3-i) {
			t.Fatalf("request %d: %d, RateLimit-Remaining %q, want %d", i+1, r.status, r.remaining, 3-i)
		}
	}
	wantRefused(t, request(t, a, ""), 900)
	wantRefused(t, request(t, b, ""), 900)
}

// TestOperationRateLimits: sign-ups per address and messages per user have budgets of their own,
// tighter than the request budget; a refusal is RATE_LIMITED with the retry time and writes nothing.
func TestOperationRateLimits(t *testing.T) {
	t.Parallel()
	a := newLimitedAPI(t, nil, func(c *config.Config) {
		c.RateLimits.SignUpsPerIP, c.RateLimits.MessagesPerUser, c.RateLimits.SearchesPerCaller = budget(t, "2/1h"), budget(t, "2/1h"), budget(t, "2/1h")
	})
	ada, bob := a.register(t, "ada"), a.register(t, "bob")
	users := a.count(t, "users")
	e := a.Fail(t, "RATE_LIMITED", "", registerMutation, map[string]any{"in": map[string]any{
		"username": "carol", "email": "carol@example.com", "password": "password-carol"}})
	if got, _ := e.Extensions["retryAfterSeconds"].(float64); !about(int(got), 1800) {
		t.Fatalf("sign-up refused with retryAfterSeconds %v, want 1800", got)
	}
	if n := a.count(t, "users"); n != users {
		t.Fatalf("a refused sign-up wrote a user: %d users, want %d", n, users)
	}

	const send = `mutation($to: ID!) { sendMessage(input: {recipientID: $to, body: "hi"}) { message { id } } }`
	to := map[string]any{"to": bob.ID}
	a.as(ada).Do(t, send, to, nil)
	a.as(ada).Do(t, send, to, nil)
	e = a.as(ada).Fail(t, "RATE_LIMITED", "", send, to)
	if got, _ := e.Extensions["retryAfterSeconds"].(float64); !about(int(got), 1800) {
		t.Fatalf("message refused with retryAfterSeconds %v, want 1800", got)
	}
	if n := a.count(t, "messages"); n != 2 {
		t.Fatalf("%d messages stored, want 2", n)
	}
	a.as(bob).Do(t, send, map[string]any{"to": ada.ID}, nil) // bob's budget is his own

	const find = `{ search(query: "hello", first: 5) { edges { cursor } } }`
	a.as(ada).Do(t, find, nil, nil)
	a.as(ada).Do(t, find, nil, nil)
	e = a.as(ada).Fail(t, "RATE_LIMITED", "", find, nil)
	if got, _ := e.Extensions["retryAfterSeconds"].(float64); !about(int(got), 1800) {
		t.Fatalf("search refused with retryAfterSeconds %v, want 1800", got)
	}
	a.as(ada).Do(t, `{ searchUsers(query: "bo", first: 5) { edges { cursor } } }`, nil, nil) // suggestions are not budgeted
	a.as(bob).Do(t, find, nil, nil)
}

// TestRateLimitBehindProxies: anonymous budgets are per client address. Without trusted proxies
// (or from a peer that is not one) X-Forwarded-For is ignored, so a client cannot get a fresh
// budget by writing a new address in it; behind a trusted proxy (the test's peer, 127.0.0.1) each
// client the proxy names has a budget of its own, and what the client wrote before the proxy's
// entry is still ignored.
func TestRateLimitBehindProxies(t *testing.T) {
	t.Parallel()
	anon := func(a *api, xff string) budgetResponse {
		t.Helper()
		res, body := httpPostJSON(t, a.srv.URL+"/graphql", map[string]string{"X-Forwarded-For": xff}, map[string]any{"query": `{ users(first: 1) { totalCount } }`})
		return budgetResponse{status: res.StatusCode, remaining: res.Header.Get("RateLimit-Remaining"), body: decodeGraphQL(t, body)}
	}
	limits := func(c *config.Config) { c.RateLimits.RequestsPerIP = budget(t, "2/1h") }

	direct := newLimitedAPI(t, nil, limits)
	anon(direct, "198.51.100.1")
	anon(direct, "198.51.100.2")
	if r := anon(direct, "198.51.100.3"); r.status != http.StatusTooManyRequests {
		t.Fatalf("a spoofed X-Forwarded-For got a fresh budget: %d remaining %s", r.status, r.remaining)
	}

	// Trusted, but the peer is not among them: still one budget.
	other := newLimitedAPI(t, nil, func(c *config.Config) {
		limits(c)
		c.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	anon(other, "198.51.100.1")
	anon(other, "198.51.100.2")
	if r := anon(other, "198.51.100.3"); r.status != http.StatusTooManyRequests {
		t.Fatalf("an untrusted peer's X-Forwarded-For was believed: %d", r.status)
	}

	proxied := newLimitedAPI(t, nil, func(c *config.Config) {
		limits(c)
		c.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	for i, tc := range []struct {
		xff    string
		status int
	}{
		{"198.51.100.1", http.StatusOK},
		{"6.6.6.6, 198.51.100.1", http.StatusOK},              // what the client wrote itself comes first
		{"7.7.7.7, 198.51.100.1", http.StatusTooManyRequests}, // …and does not buy it a new budget
		{"198.51.100.2", http.StatusOK},                       // another client behind the proxy
		{"198.51.100.2, 127.0.0.1", http.StatusOK},            // through a second trusted hop
		{"198.51.100.2", http.StatusTooManyRequests},
	} {
		if r := anon(proxied, tc.xff); r.status != tc.status {
			t.Fatalf("request %d behind the proxy (X-Forwarded-For %s): %d, want %d", i+1, tc.xff, r.status, tc.status)
		}
	}
}
