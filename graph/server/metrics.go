package server

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/agora/agora/internal/telemetry"
)

// operationMetrics counts each operation by name, type and outcome, its errors by code, and times
// queries and mutations. Requests that fail to parse or validate pass here too (with no operation
// type); a subscription counts once, at its first response.
type operationMetrics struct{ m *telemetry.Metrics }

func (operationMetrics) ExtensionName() string                   { return "OperationMetrics" }
func (operationMetrics) Validate(graphql.ExecutableSchema) error { return nil }

func (x operationMetrics) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	if !isSubscription(ctx) {
		return h
	}
	first := true
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if first && resp != nil {
			first = false
			x.record(ctx, resp)
		}
		return resp
	}
}

func (x operationMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil && !isSubscription(ctx) {
		x.record(ctx, resp)
	}
	return resp
}

func (x operationMetrics) record(ctx context.Context, resp *graphql.Response) {
	typ, name := operation(ctx)
	elapsed := time.Duration(-1)
	if graphql.HasOperationContext(ctx) {
		if start := graphql.GetOperationContext(ctx).Stats.OperationStart; !start.IsZero() {
			elapsed = time.Since(start)
		}
	}
	x.m.Operation(name, typ, errorCodes(resp), elapsed)
}
