// Package telemetry holds what Agora tells operators about itself: for now its Prometheus metrics,
// served at /metrics.
package telemetry

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one process's registry.
type Metrics struct {
	reg        *prometheus.Registry
	statements prometheus.Histogram
}

// New returns the metrics with the Go runtime and process collectors registered.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		statements: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agora_db_statements_per_request",
			Help:    "SQL statements run on behalf of one GraphQL request.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64, 128},
		}),
	}
	m.reg.MustRegister(m.statements, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveStatements records the statement count of one request.
func (m *Metrics) ObserveStatements(n int64) { m.statements.Observe(float64(n)) }

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

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
