package telemetry

import (
	"context"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName names the spans Agora's own code starts (HTTP, GraphQL, loaders, SQL).
const TracerName = "github.com/agora/agora"

// Propagator reads and writes W3C trace context headers (traceparent, tracestate).
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// TracingConfigured reports whether the standard OpenTelemetry variables ask for traces: an OTLP
// endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and the SDK
// is not disabled (OTEL_SDK_DISABLED=true).
func TracingConfigured(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// NewTracerProvider returns the tracer provider the standard OTEL_* variables describe: spans
// exported over OTLP/HTTP in batches when TracingConfigured, sampled as OTEL_TRACES_SAMPLER says,
// from the service OTEL_SERVICE_NAME names ("agora" by default). Otherwise it is a no-op provider
// that records nothing. shutdown flushes the spans still buffered; call it once, at exit.
func NewTracerProvider(ctx context.Context) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	if !TracingConfigured(os.Getenv) {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	exporter, err := otlptracehttp.New(ctx) // endpoint, headers, timeout, compression: OTEL_EXPORTER_OTLP_*
	if err != nil {
		return nil, nil, err
	}
	res, err := serviceResource(ctx)
	if err != nil {
		return nil, nil, err
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	return p, p.Shutdown, nil
}

// serviceResource describes this process: service.name "agora" unless OTEL_SERVICE_NAME (or
// OTEL_RESOURCE_ATTRIBUTES) says otherwise, the SDK and the host.
func serviceResource(ctx context.Context) (*resource.Resource, error) {
	return resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "agora")),
		resource.WithFromEnv(), // after the default, so that it wins
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
}

// Tracing reports whether tp records spans at all: false for nil and no-op providers, whose
// instrumentation Agora leaves out.
func Tracing(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case nil, noop.TracerProvider:
		return false
	}
	return true
}

// TraceID returns the ID of the trace ctx belongs to when that trace is sampled, or "".
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() {
		return ""
	}
	return sc.TraceID().String()
}

// StartChild starts a span below the one in ctx, with the provider that made that one, when it
// records; otherwise it returns ctx and a span that records nothing, at no cost. Libraries below
// the HTTP layer (loaders, SQL) trace this way, without a provider of their own.
// Callers set attributes only when span.IsRecording(): building them costs allocations.
func StartChild(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(TracerName).Start(ctx, name, trace.WithSpanKind(kind))
}
