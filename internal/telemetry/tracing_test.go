package telemetry

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TestNewTracerProvider: the standard variables decide whether spans are exported, and the
// service is "agora" unless OTEL_SERVICE_NAME names it.
func TestNewTracerProvider(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"no endpoint", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"} {
				t.Setenv(k, tc.env[k])
			}
			tp, shutdown, err := NewTracerProvider(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer shutdown(context.Background())
			if Tracing(tp) != tc.on {
				t.Fatalf("tracing %v, want %v (%T)", Tracing(tp), tc.on, tp)
			}
			switch tp.(type) {
			case *sdktrace.TracerProvider:
				if !tc.on {
					t.Fatal("an SDK provider while tracing is off")
				}
			case noop.TracerProvider:
				if tc.on {
					t.Fatal("a no-op provider while tracing is on")
				}
			}
		})
	}
	for want, name := range map[string]string{"agora": "", "agora-eu": "agora-eu"} {
		t.Setenv("OTEL_SERVICE_NAME", name)
		res, err := serviceResource(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, kv := range res.Attributes() {
			if kv.Key == "service.name" {
				got = kv.Value.AsString()
			}
		}
		if got != want {
			t.Errorf("OTEL_SERVICE_NAME=%q: service.name %q, want %q", name, got, want)
		}
	}
}

// TestStartChild: below a span that records, a child of the same trace; below none, nothing.
func TestStartChild(t *testing.T) {
	ctx, span := StartChild(context.Background(), "x", 0)
	if span.IsRecording() || ctx != context.Background() {
		t.Fatal("a span without a parent")
	}
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	_, child := StartChild(ctx, "child", 0)
	if !child.IsRecording() || child.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Fatal("no child in the parent's trace")
	}
	if TraceID(ctx) != parent.SpanContext().TraceID().String() {
		t.Fatalf("TraceID %q", TraceID(ctx))
	}
}
