package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/httpx"
)

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
	case errors.Is(err, privacy.Deny):
		return &apperr.Error{Kind: apperr.Forbidden, Message: "not allowed", Err: err}
	case database.IsTimeout(err):
		return &apperr.Error{Kind: apperr.Timeout, Message: timeoutMessage, Err: err}
	case errors.Is(err, context.Canceled):
		return &apperr.Error{Kind: apperr.Unavailable, Message: "request cancelled or timed out", Err: err}
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
			return gqlErr // gqlgen's own parse and validation errors: already coded
		}
		e := classify(gqlErr.Err)
		if (e.Kind == apperr.Internal || e.Kind == apperr.Unavailable) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The operation's deadline passed: whatever the driver made of it (SQLite reports an
			// interruption), the client learns that it timed out.
			e = &apperr.Error{Kind: apperr.Timeout, Message: timeoutMessage, Err: err}
		}
		ext := map[string]any{"code": e.Kind.Code()}
		for k, v := range gqlErr.Extensions {
			ext[k] = v
		}
		if e.Field != "" {
			ext["field"] = e.Field
		}
		msg := e.Message
		switch e.Kind {
		case apperr.Internal:
			id := httpx.RequestID(ctx)
			log.ErrorContext(ctx, "internal error", "err", err, "path", gqlErr.Path.String(), "request_id", id)
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
		return &gqlerror.Error{Message: msg, Path: gqlErr.Path, Locations: gqlErr.Locations, Extensions: ext, Err: err}
	}
}

// recoverFunc turns a resolver panic into an internal error; the presenter logs it.
func recoverFunc(_ context.Context, p any) error {
	return &apperr.Error{Kind: apperr.Internal, Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
}
