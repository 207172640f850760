package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/graph/generated"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/httpx"
	"github.com/agora/agora/internal/telemetry"
)

// registerRequestErrors makes requests refused before they run request errors, as a validation
// failure is: HTTP 400 with application/graphql-response+json (422 with application/json), not
// 200. gqlgen keeps error kinds in a process-wide registry, so this runs once, when the first
// handler is built, not as a side effect of importing the package.
var registerRequestErrors = sync.OnceFunc(func() {
	// RATE_LIMITED here is a socket operation refused before it runs (socketBudget): an "error"
	// message on that operation, as the WebSocket protocols provide.
	for _, code := range []string{apperr.BadRequest.Code(), codeOperationLimit, codeIntrospectionDisabled, apperr.RateLimited.Code()} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
})

// classify maps an error to its apperr kind: apperr errors as they are, ent's own errors by what
// they mean, anything else Internal.
func classify(err error) *apperr.Error {
	if e, ok := apperr.As(err); ok {
		return e
	}
	var verr *ent.ValidationError
	switch {
	case errors.As(err, &verr):
		return &apperr.Error{Kind: apperr.Invalid, Field: verr.Name, Message: "invalid value", Err: err}
	case ent.IsNotFound(err):
		return &apperr.Error{Kind: apperr.NotFound, Message: "not found", Err: err}
	case ent.IsConstraintError(err):
		return &apperr.Error{Kind: apperr.Conflict, Message: "conflicts with existing data", Err: err}
	case errors.Is(err, generated.ErrUnknownType) || errors.Is(err, generated.ErrTypeNotFound):
		// _entities given a representation of no entity type (operationLimits refuses those first)
		return &apperr.Error{Kind: apperr.Invalid, Field: "representations", Message: "not an entity representation", Err: err}
	case errors.Is(err, privacy.Deny):
		return &apperr.Error{Kind: apperr.Forbidden, Message: "not allowed", Err: err}
	case database.IsTimeout(err): // before Unavailable: a deadline is a net.Error too
		return &apperr.Error{Kind: apperr.Timeout, Message: timeoutMessage, Err: err}
	case database.Unavailable(err):
		return &apperr.Error{Kind: apperr.Unavailable, Message: "the database is unavailable: retry later", Err: err}
	case errors.Is(err, context.Canceled):
		return &apperr.Error{Kind: apperr.Unavailable, Message: "request cancelled", Err: err}
	}
	return &apperr.Error{Kind: apperr.Internal, Err: err}
}

const timeoutMessage = "the operation took longer than it may: ask for less, or try again later"

// errorPresenter is the one place that decides what a client sees of an error: a message and an
// extensions.code (plus the field for input errors). Internal errors are logged in full and
// reach the client as "internal error" with the request ID to quote.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr.Err == nil {
			return withTraceID(ctx, requestError(gqlErr)) // gqlgen's own: parse and validation errors are coded
		}
		e := classify(gqlErr.Err)
		if e.Kind == apperr.Internal || e.Kind == apperr.Unavailable {
			switch {
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				// The operation's deadline passed: whatever the driver made of it (SQLite reports an
				// interruption), the client learns that it timed out.
				e = &apperr.Error{Kind: apperr.Timeout, Message: timeoutMessage, Err: err}
			case errors.Is(ctx.Err(), context.Canceled):
				// The client hung up (or stopped the operation over its socket): no one reads this,
				// and the access log and metrics must not count it as the server's failure.
				e = &apperr.Error{Kind: apperr.Cancelled, Message: "cancelled by the client", Err: err}
			}
		}
		ext := map[string]any{"code": e.Kind.Code()}
		for k, v := range gqlErr.Extensions {
			ext[k] = v
		}
		if e.Field != "" {
			ext["field"] = e.Field
		}
		if e.Reason != "" {
			ext["reason"] = e.Reason
		}
		if e.Limit != nil {
			ext["limit"], ext["max"] = e.Limit.Name, e.Limit.Max
		}
		msg := e.Message
		switch e.Kind {
		case apperr.Internal:
			id := httpx.RequestID(ctx)
			args := []any{"err", err, "path", gqlErr.Path.String(), "request_id", id}
			if traceID := telemetry.TraceID(ctx); traceID != "" {
				args = append(args, "trace_id", traceID)
			}
			log.ErrorContext(ctx, "internal error", args...)
			trace.SpanFromContext(ctx).RecordError(err)
			msg = "internal error"
			ext["requestId"] = id
		case apperr.Invalid:
			if e.Field == "" && len(gqlErr.Path) > 0 {
				// An argument that failed to parse: the path ends in its name.
				if name, ok := gqlErr.Path[len(gqlErr.Path)-1].(ast.PathName); ok {
					ext["field"] = string(name)
				}
			}
		case apperr.RateLimited:
			ext["retryAfterSeconds"] = int(math.Ceil(e.RetryAfter.Seconds()))
		}
		return withTraceID(ctx, &gqlerror.Error{Message: msg, Path: gqlErr.Path, Locations: gqlErr.Locations, Extensions: ext, Err: err})
	}
}

// withTraceID adds extensions.traceId, the trace to look up, when the request is traced.
func withTraceID(ctx context.Context, e *gqlerror.Error) *gqlerror.Error {
	if id := telemetry.TraceID(ctx); id != "" {
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		e.Extensions["traceId"] = id
	}
	return e
}

// requestError gives gqlgen's uncoded request errors (an undecodable body, a mutation over GET, a
// persisted query whose hash does not match) the code BAD_REQUEST, and a message that does not
// echo the request back.
func requestError(e *gqlerror.Error) *gqlerror.Error {
	if _, ok := e.Extensions["code"]; ok {
		return e
	}
	if strings.HasPrefix(e.Message, "json request body could not be decoded") {
		e.Message = `the body must be a JSON object: "query" a string, "operationName" a string, "variables" and "extensions" objects`
	}
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = apperr.BadRequest.Code()
	return e
}

// recoverFunc turns a resolver panic into an internal error; the presenter logs it.
func recoverFunc(_ context.Context, p any) error {
	return &apperr.Error{Kind: apperr.Internal, Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
}
