// Package telemetry holds what Agora tells operators about itself: for now its Prometheus metrics,
// served at /metrics.
package telemetry

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxOperationNames is how many distinct operation names get series of their own; the names
// clients send after that are counted as "other", so untrusted clients cannot grow the series
// without bound. MaxErrorCodes does the same for extensions.code values.
const (
	MaxOperationNames = 200
	MaxErrorCodes     = 50
)

// Metrics is one process's registry. Its methods do nothing on a nil *Metrics, so code under test
// may leave it out.
type Metrics struct {
	reg        *prometheus.Registry
	statements prometheus.Histogram
	requests   *prometheus.CounterVec   // operation, type, outcome
	latency    *prometheus.HistogramVec // operation, type
	errors     *prometheus.CounterVec   // code
	httpTime   *prometheus.HistogramVec // route, method, status
	batches    *prometheus.HistogramVec // loader
	sockets    prometheus.Gauge
	refusals   *prometheus.CounterVec // budget

	names, codes *bounded
}

// New returns the metrics with the Go runtime and process collectors registered.
func New() *Metrics {
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		statements: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agora_db_statements_per_request",
			Help:    "SQL statements run on behalf of one GraphQL request.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64, 128},
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agora_graphql_requests_total",
			Help: "GraphQL operations by operation name (\"other\" past the first " + strconv.Itoa(MaxOperationNames) +
				" names, \"anonymous\" without one), type, and outcome: ok, client_error, server_error, or cancelled (the client hung up first). A subscription counts once, when it starts.",
		}, []string{"operation", "type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agora_graphql_duration_seconds",
			Help:    "Time from reading a query or mutation to its response, by operation name and type.",
			Buckets: latency,
		}, []string{"operation", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agora_graphql_errors_total",
			Help: "Errors in GraphQL responses, by extensions.code.",
		}, []string{"code"}),
		httpTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agora_http_request_duration_seconds",
			Help:    "HTTP requests by route, method and status class (1xx..5xx), from arrival to the end of the response; WebSocket and event-stream requests last as long as the stream.",
			Buckets: latency,
		}, []string{"route", "method", "status"}),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agora_loader_batch_keys",
			Help:    "Keys per loader batch (one query, or one cache read), by loader.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500},
		}, []string{"loader"}),
		sockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "agora_websocket_connections",
			Help: "Open WebSocket connections.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agora_rate_limit_refusals_total",
			Help: "Requests refused by a rate limit, by budget: request, login, register, message.",
		}, []string{"budget"}),
		names: newBounded(MaxOperationNames),
		codes: newBounded(MaxErrorCodes),
	}
	m.reg.MustRegister(m.statements, m.requests, m.latency, m.errors, m.httpTime, m.batches, m.sockets, m.refusals,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveStatements records the statement count of one request.
func (m *Metrics) ObserveStatements(n int64) {
	if m != nil {
		m.statements.Observe(float64(n))
	}
}

// Operation records one GraphQL operation: its name (as the client sent it; "" for anonymous
// ones), its type (query, mutation, subscription; "" when it did not parse), the extensions.code
// of each error in its response, and, for queries and mutations, how long it took (elapsed < 0: not known).
func (m *Metrics) Operation(name, typ string, codes []string, elapsed time.Duration) {
	if m == nil {
		return
	}
	switch {
	case name == "":
		name = "anonymous"
	default:
		name = m.names.label(name)
	}
	if typ == "" {
		typ = "unknown"
	}
	outcome, cancelled := "ok", false
	for _, c := range codes {
		m.errors.WithLabelValues(m.codes.label(c)).Inc()
		switch {
		case c == "CANCELLED":
			cancelled = true
		case serverError(c):
			outcome = "server_error"
		case outcome == "ok":
			outcome = "client_error"
		}
	}
	if cancelled { // the client left: whatever else failed on the way out, no one was answered
		outcome = "cancelled"
	}
	m.requests.WithLabelValues(name, typ, outcome).Inc()
	if elapsed >= 0 && typ != "subscription" {
		m.latency.WithLabelValues(name, typ).Observe(elapsed.Seconds())
	}
}

// serverError tells the codes that are Agora's fault (or its dependencies') from the caller's.
func serverError(code string) bool {
	switch code {
	case "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT", "":
		return true
	}
	return false
}

// LoaderBatch records the size of one loader batch.
func (m *Metrics) LoaderBatch(loader string, keys int) {
	if m != nil {
		m.batches.WithLabelValues(loader).Observe(float64(keys))
	}
}

// SocketOpened and SocketClosed track open WebSocket connections.
func (m *Metrics) SocketOpened() {
	if m != nil {
		m.sockets.Inc()
	}
}

// SocketClosed: see SocketOpened.
func (m *Metrics) SocketClosed() {
	if m != nil {
		m.sockets.Dec()
	}
}

// RateLimited records a refusal from the budget a rate-limit key names ("login:ip:…" → login).
func (m *Metrics) RateLimited(key string) {
	if m == nil {
		return
	}
	budget, _, _ := strings.Cut(key, ":")
	switch budget {
	case "request", "login", "register", "message", "search":
	default:
		budget = "other"
	}
	m.refusals.WithLabelValues(budget).Inc()
}

// CacheKeys exports the loaders' second-level counts, read from stats at each scrape: keys found
// in the cache, read from the database, and joined to a read in flight.
func (m *Metrics) CacheKeys(stats func() (hits, misses, collapsed int64)) {
	for _, result := range []string{"hit", "miss", "collapsed"} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "agora_cache_keys_total",
			Help:        "Keys the loaders looked up in the shared cache, by result.",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 {
			h, m, c := stats()
			return float64(map[string]int64{"hit": h, "miss": m, "collapsed": c}[result])
		}))
	}
}

// Subscriptions exports the subscription counts, read from stats at each scrape: started since
// start, and running now.
func (m *Metrics) Subscriptions(stats func() (started, active int64)) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agora_subscriptions_started_total",
			Help: "GraphQL subscriptions started (WebSocket and server-sent events).",
		}, func() float64 { s, _ := stats(); return float64(s) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "agora_subscriptions_active",
			Help: "GraphQL subscriptions running now.",
		}, func() float64 { _, a := stats(); return float64(a) }),
	)
}

// PoolStats are a database connection pool's figures at one moment: the pgx pool's on PostgreSQL,
// database/sql's on SQLite.
type PoolStats struct {
	MaxConnections int           // the pool's limit (0: none)
	Open           int           // open connections, in use or idle (on PostgreSQL, with those being opened)
	InUse          int           // connections lent out
	Idle           int           // open connections not in use
	Waits          int64         // times a caller found no free connection and waited
	WaitTime       time.Duration // time callers spent waiting for one
}

// DBPool exports the database pool's statistics, read at each scrape.
func (m *Metrics) DBPool(stats func() PoolStats) {
	gauge := func(name, help string, v func(PoolStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(stats()) })
	}
	counter := func(name, help string, v func(PoolStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(stats()) })
	}
	m.reg.MustRegister(
		gauge("agora_db_pool_max_connections", "The pool's connection limit (0: none).", func(s PoolStats) float64 { return float64(s.MaxConnections) }),
		gauge("agora_db_pool_open_connections", "Open database connections, in use or idle.", func(s PoolStats) float64 { return float64(s.Open) }),
		gauge("agora_db_pool_in_use_connections", "Database connections in use.", func(s PoolStats) float64 { return float64(s.InUse) }),
		gauge("agora_db_pool_idle_connections", "Idle database connections.", func(s PoolStats) float64 { return float64(s.Idle) }),
		counter("agora_db_pool_waits_total", "Times a caller waited for a free connection.", func(s PoolStats) float64 { return float64(s.Waits) }),
		counter("agora_db_pool_wait_seconds_total", "Time callers spent waiting for a free connection.", func(s PoolStats) float64 { return s.WaitTime.Seconds() }),
	)
}

// HTTPObserver returns what times each request once it is answered (httpx.AccessLog calls it),
// labelled by route: the path when it is one of routes, "other" otherwise (so scanners probing
// paths add no series).
func (m *Metrics) HTTPObserver(routes []string) func(r *http.Request, status int, d time.Duration) {
	if m == nil {
		return nil
	}
	known := map[string]bool{}
	for _, r := range routes {
		known[r] = true
	}
	return func(r *http.Request, status int, d time.Duration) {
		route := r.URL.Path
		if !known[route] {
			route = "other"
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodPost, http.MethodOptions, http.MethodHead:
		default:
			method = "other"
		}
		if status == 0 {
			status = http.StatusOK
		}
		m.httpTime.WithLabelValues(route, method, strconv.Itoa(status/100)+"xx").Observe(d.Seconds())
	}
}

// Handler serves the metrics in the Prometheus text format, uncompressed: the page is about
// 20 kB, and compressing it took a gzip writer of about 1.5 MB that the process then held between
// scrapes (a Prometheus scrape asks for gzip). On Agora's main address, Compress still compresses
// it for a client that asks.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, DisableCompression: true})
}

// bounded hands out label values: the first max distinct values as they are, "other" after that.
type bounded struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

func newBounded(max int) *bounded { return &bounded{max: max, seen: map[string]bool{}} }

func (b *bounded) label(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[v] {
		return v
	}
	if len(b.seen) >= b.max || len(v) > 100 {
		return "other"
	}
	b.seen[v] = true
	return v
}
