package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/httpx"
	"github.com/agora/agora/internal/telemetry"
)

// observe tells the access log (httpx.Note) which operation a request ran, for which viewer, and
// the codes of the errors it answered; and, when the request is traced, runs each response in a
// span of its own: one per query or mutation, one per subscription event, one for a request refused
// at parse or validation. A batch notes each of its operations.
type observe struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = observe{}

func (observe) ExtensionName() string                          { return "Observe" }
func (observe) Validate(schema graphql.ExecutableSchema) error { return nil }

func (observe) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	typ, name := operation(ctx)
	rec := httpx.Note(ctx)
	rec.Operation(typ, name)
	rec.Viewer(auth.FromContext(ctx).UserID)

	spanName := "graphql"
	if typ != "" {
		spanName = typ
		if name != "" {
			spanName += " " + name
		}
	}
	ctx, span := telemetry.StartChild(ctx, spanName, trace.SpanKindInternal)
	recording := span.IsRecording()
	if recording {
		span.SetAttributes(attribute.String("graphql.operation.type", typ), attribute.String("graphql.operation.name", name))
		defer span.End()
	}
	resp := next(ctx)
	if resp == nil || len(resp.Errors) == 0 {
		return resp
	}
	codeList := errorCodes(resp)
	rec.Codes(codeList...)
	if recording {
		span.SetAttributes(attribute.StringSlice("graphql.error.codes", codeList))
		span.SetStatus(codes.Error, resp.Errors[0].Message)
		for _, e := range resp.Errors {
			span.AddEvent("exception", trace.WithAttributes(attribute.String("exception.message", e.Message),
				attribute.String("graphql.error.path", e.Path.String())))
		}
	}
	return resp
}

// operation is the type and name of the operation ctx runs: "" for both before one is known
// (a request refused at parse or validation), "" for the name of an anonymous one.
func operation(ctx context.Context) (typ, name string) {
	if graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx).Operation; op != nil {
			return string(op.Operation), op.Name
		}
	}
	return "", ""
}

// errorCodes is the extensions.code of each error of resp ("" for one without).
func errorCodes(resp *graphql.Response) []string {
	codes := make([]string, len(resp.Errors))
	for i, e := range resp.Errors {
		codes[i], _ = e.Extensions["code"].(string)
	}
	return codes
}
