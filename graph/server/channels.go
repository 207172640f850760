package server

import (
	"context"
	"math"
	"net/http"
	"strconv"

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
		return "request:user:" + strconv.Itoa(v.UserID), b.user
	}
	return "request:ip:" + auth.ClientIP(ctx), b.anon
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
