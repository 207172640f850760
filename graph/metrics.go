package graph

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
	var name, typ string
	elapsed := time.Duration(-1)
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation != nil {
			name, typ = oc.Operation.Name, string(oc.Operation.Operation)
		}
		if !oc.Stats.OperationStart.IsZero() {
			elapsed = time.Since(oc.Stats.OperationStart)
		}
	}
	codes := make([]string, 0, len(resp.Errors))
	for _, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		codes = append(codes, code)
	}
	x.m.Operation(name, typ, codes, elapsed)
}
