package loader

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/agora/agora/internal/telemetry"
)

// traced runs each batch of the loader called name in a span "loader NAME" with the batch size,
// when the request is traced.
func traced[K comparable, V any](name string, fetch func(context.Context, []K) ([]V, []error)) func(context.Context, []K) ([]V, []error) {
	return func(ctx context.Context, keys []K) ([]V, []error) {
		if !trace.SpanFromContext(ctx).IsRecording() {
			return fetch(ctx, keys)
		}
		ctx, span := telemetry.StartChild(ctx, "loader "+name, trace.SpanKindInternal)
		defer span.End()
		span.SetAttributes(attribute.String("loader.name", name), attribute.Int("loader.batch_size", len(keys)))
		values, errs := fetch(ctx, keys)
		for _, err := range errs {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "batch failed")
				break
			}
		}
		return values, errs
	}
}
