// Package httpx holds generic HTTP middleware: request IDs, access logs, panic recovery, body limits,
// CORS, CSRF prevention, batching, compression and health endpoints.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/telemetry"
)

type requestIDKey struct{}

// RequestID returns the ID of the request being served, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

var goodID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestIDHeader is X-Request-ID as net/http keeps it (canonical): reading and setting it copy no name.
var requestIDHeader = http.CanonicalHeaderKey("X-Request-ID")

// WithRequestID gives every request an ID: the caller's X-Request-ID when it is sane, a random one
// otherwise. It is echoed in the response header and attached to logs and internal errors.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !goodID.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes through, for event streams (which assert http.Flusher directly).
func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// AccessLog logs one line per request, and recovers from panics with a 500. The line holds what
// the layers inside reported through Note (operations, viewer, error codes) and, when the request
// is traced, its trace ID.
func AccessLog(log *slog.Logger, observe func(r *http.Request, status int, d time.Duration), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		rec := &Record{}
		r = r.WithContext(context.WithValue(r.Context(), recordKey{}, rec))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic", "panic", p, "stack", string(debug.Stack()), "request_id", RequestID(r.Context()))
				if sw.status == 0 {
					WriteError(sw, r, http.StatusInternalServerError, apperr.CodeInternal, "internal error",
						map[string]any{"requestId": RequestID(r.Context())})
				}
			}
			attrs := make([]slog.Attr, 0, 12)
			attrs = append(attrs, slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
				slog.Int("bytes", sw.bytes), slog.Int64("duration_ms", time.Since(start).Milliseconds()),
				slog.String("request_id", RequestID(r.Context())))
			if id := telemetry.TraceID(r.Context()); id != "" {
				attrs = append(attrs, slog.String("trace_id", id))
			}
			attrs = rec.attrs(attrs)
			log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
			if observe != nil {
				observe(r, sw.status, time.Since(start))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// Record is what the layers inside AccessLog tell it about a request: the GraphQL operations it
// ran (several for a batch or a socket), the viewer, and the codes of the errors answered.
type Record struct {
	mu         sync.Mutex
	operations []string // "query FeedPage", "subscription" (anonymous)
	viewerID   int
	codes      []string // each once, in order of appearance
}

// maxNoted bounds what one request's record holds: a socket runs operations for hours.
const maxNoted = 20

type recordKey struct{}

// Note returns the request's Record, or nil outside AccessLog (Record's methods accept nil).
func Note(ctx context.Context) *Record {
	rec, _ := ctx.Value(recordKey{}).(*Record)
	return rec
}

// Operation notes an operation: its type (query, mutation, subscription) and name ("" when
// anonymous). An operation noted again (each event of a subscription) is noted once.
func (r *Record) Operation(typ, name string) {
	if r == nil || typ == "" {
		return
	}
	op := typ
	if name != "" {
		op += " " + name
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.operations) < maxNoted && !slices.Contains(r.operations, op) {
		r.operations = append(r.operations, op)
	}
}

// Viewer notes the ID of the user the request acts for (0: anonymous). Only the ID: never a
// name or an address.
func (r *Record) Viewer(userID int) {
	if r == nil || userID == 0 {
		return
	}
	r.mu.Lock()
	r.viewerID = userID
	r.mu.Unlock()
}

// Codes notes the codes of the errors in a response.
func (r *Record) Codes(codes ...string) {
	if r == nil || len(codes) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range codes {
		if c != "" && len(r.codes) < maxNoted && !slices.Contains(r.codes, c) {
			r.codes = append(r.codes, c)
		}
	}
}

// attrs appends the record's fields to a log line: operation ("query FeedPage"; several are
// separated by commas), viewer_id, error_codes ("NOT_FOUND,FORBIDDEN").
func (r *Record) attrs(attrs []slog.Attr) []slog.Attr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.operations) > 0 {
		attrs = append(attrs, slog.String("operation", strings.Join(r.operations, ",")))
	}
	if r.viewerID != 0 {
		attrs = append(attrs, slog.Int("viewer_id", r.viewerID))
	}
	if len(r.codes) > 0 {
		attrs = append(attrs, slog.String("error_codes", strings.Join(r.codes, ",")))
	}
	return attrs
}

// Trace starts a server span for every request but health checks and metrics scrapes, named by
// method and path, below the caller's span when the request carries W3C trace context (a router's
// traceparent). With a provider that records nothing (telemetry.Tracing false) it is next itself.
func Trace(tp trace.TracerProvider, next http.Handler) http.Handler {
	if !telemetry.Tracing(tp) {
		return next
	}
	tracer, propagator := tp.Tracer(telemetry.TracerName), telemetry.Propagator()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
				attribute.String("agora.request_id", RequestID(ctx))))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	})
}

// Health serves /healthz (the process is alive) and /readyz (ready checks its dependencies).
func Health(mux *http.ServeMux, ready func(context.Context) error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}
