package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/httpx"
	"github.com/agora/agora/internal/ratelimit"
)

// requestBudget names the budget a caller's requests and operations draw on: the signed-in user's,
// or the client address's when anonymous.
type requestBudget struct {
	limiter    ratelimit.Limiter
	anon, user ratelimit.Limit
}

func (b requestBudget) key(ctx context.Context) (string, ratelimit.Limit) {
	if v := auth.FromContext(ctx); v.Authenticated() {
		return "request:" + caller(ctx), b.user
	}
	return "request:" + caller(ctx), b.anon
}

// caller names whose budget ctx's work draws on: "user:ID" when signed in, "ip:ADDRESS" otherwise.
func caller(ctx context.Context) string {
	if v := auth.FromContext(ctx); v.Authenticated() {
		return "user:" + strconv.Itoa(v.UserID)
	}
	return "ip:" + auth.ClientIP(ctx)
}

// middleware takes one event per HTTP request (see ratelimit.Middleware). A WebSocket upgrade is
// one request; the operations sent over the socket then pay one each (socketBudget). An event
// stream is one request carrying one operation.
func (b requestBudget) middleware(next http.Handler) http.Handler {
	return ratelimit.Middleware(b.limiter, func(r *http.Request) (string, ratelimit.Limit) { return b.key(r.Context()) })(next)
}

// socketBudget takes one event from the caller's request budget for every operation sent over a
// WebSocket — queries and mutations as well as subscriptions — as if each were an HTTP request:
// the socket does not multiply the budget. It runs before the document is parsed, so a refusal
// costs next to nothing; the refused operation gets an error coded RATE_LIMITED with
// extensions.retryAfterSeconds, and the socket stays open for operations sent once the budget
// has refilled. The viewer is the socket's (from connection_init, or the upgrade request's).
type socketBudget struct{ requestBudget }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = socketBudget{}

func (socketBudget) ExtensionName() string                   { return "SocketBudget" }
func (socketBudget) Validate(graphql.ExecutableSchema) error { return nil }

func (b socketBudget) MutateOperationParameters(ctx context.Context, _ *graphql.RawParams) *gqlerror.Error {
	if socketFrom(ctx) == nil {
		return nil // an HTTP request or event stream: the request paid at the door
	}
	key, limit := b.key(ctx)
	res, err := b.limiter.Allow(ctx, key, limit)
	if err != nil || res.Allowed {
		return nil // a limiter that fails must not take the API down
	}
	httpx.Note(ctx).Codes(apperr.RateLimited.Code())
	return &gqlerror.Error{
		Message: "too many requests: retry later",
		Extensions: map[string]any{"code": apperr.RateLimited.Code(),
			"retryAfterSeconds": max(1, int(math.Ceil(res.RetryAfter.Seconds())))},
	}
}

// connections caps the long-lived connections (WebSockets and event streams) a client holds open
// at once: per client address while anonymous, per user once signed in (the request budgets'
// keys). Each holds goroutines, buffers and up to MaxSubscriptions subscriptions, so these caps,
// with the subscriptions per connection and the subscribers per topic, bound what one client can
// make a replica keep and fan out to.
type connections struct {
	perIP, perUser int

	mu     sync.Mutex
	byIP   map[string]int
	byUser map[int]int
}

func newConnections(perIP, perUser int) *connections {
	return &connections{perIP: perIP, perUser: perUser, byIP: map[string]int{}, byUser: map[int]int{}}
}

// connectionRefusal says which cap refused a connection.
type connectionRefusal struct {
	limit string // socketsPerAddress or socketsPerUser
	max   int
}

func (r *connectionRefusal) Error() string {
	if r.limit == "socketsPerUser" {
		return fmt.Sprintf("too many open connections for this user: at most %d, close one first", r.max)
	}
	return fmt.Sprintf("too many open connections from this address: at most %d, close one first", r.max)
}

// write answers an HTTP request (an upgrade or an event stream) refused by r: 429 RATE_LIMITED,
// extensions.limit naming the cap and max its value.
func (r *connectionRefusal) write(w http.ResponseWriter, req *http.Request) {
	httpx.WriteError(w, req, http.StatusTooManyRequests, apperr.RateLimited.Code(), r.Error(), map[string]any{"limit": r.limit, "max": r.max})
}

// slot is one open connection's place under the caps, given back when it closes.
type slot struct {
	c    *connections
	mu   sync.Mutex
	held bool   // until closed
	ip   string // counted on this address while anonymous (user is 0)
	user int    // counted on this user once signed in
}

// open takes a place for a connection of ctx's viewer: on the user when signed in, on the client
// address otherwise.
func (c *connections) open(ctx context.Context) (*slot, *connectionRefusal) {
	s := &slot{c: c, held: true}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := auth.FromContext(ctx); v.Authenticated() {
		if c.byUser[v.UserID] >= c.perUser {
			return nil, &connectionRefusal{limit: "socketsPerUser", max: c.perUser}
		}
		c.byUser[v.UserID]++
		s.user = v.UserID
		return s, nil
	}
	ip := auth.ClientIP(ctx)
	if c.byIP[ip] >= c.perIP {
		return nil, &connectionRefusal{limit: "socketsPerAddress", max: c.perIP}
	}
	c.byIP[ip]++
	s.ip = ip
	return s, nil
}

// signIn moves the connection to userID's count, once its connection_init payload signed it in.
func (s *slot) signIn(userID int) *connectionRefusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.held || s.user == userID {
		return nil
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser[userID] >= c.perUser {
		return &connectionRefusal{limit: "socketsPerUser", max: c.perUser}
	}
	c.byUser[userID]++
	c.release(s.ip, s.user)
	s.ip, s.user = "", userID
	return nil
}

// close gives the connection's place back (none for a stream that took none: nil).
func (s *slot) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.held {
		return
	}
	s.held = false
	s.c.mu.Lock()
	s.c.release(s.ip, s.user)
	s.c.mu.Unlock()
}

// release, under mu, gives back a place on user, or on ip when user is 0.
func (c *connections) release(ip string, user int) {
	if user != 0 {
		if c.byUser[user]--; c.byUser[user] <= 0 {
			delete(c.byUser, user)
		}
		return
	}
	if c.byIP[ip]--; c.byIP[ip] <= 0 {
		delete(c.byIP, ip)
	}
}
