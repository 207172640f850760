package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// JobCount is how many jobs of one kind are in one state.
type JobCount struct {
	Kind, State string
	N           int
}

// Jobs registers the job queue's metrics: agora_jobs (by kind and state, read from the database at
// each scrape by counts, so every process reports the shared queue), and returns what observes
// each finished attempt this process ran: agora_job_attempts_total by kind and outcome, and the
// time a job waited for a worker and ran, by kind.
func (m *Metrics) Jobs(counts func() ([]JobCount, error)) func(kind, outcome string, wait, run time.Duration) {
	if m == nil {
		return func(string, string, time.Duration, time.Duration) {}
	}
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agora_job_attempts_total",
		Help: "Job attempts this process finished, by kind and outcome: completed, failed (retried later), discarded (out of attempts: the dead letter), cancelled.",
	}, []string{"kind", "outcome"})
	waits := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "agora_job_wait_seconds", Help: "Time a job waited, due, for a worker, by kind.", Buckets: buckets,
	}, []string{"kind"})
	runs := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "agora_job_run_seconds", Help: "Time one attempt of a job ran, by kind.", Buckets: buckets,
	}, []string{"kind"})
	m.reg.MustRegister(attempts, waits, runs, &jobCounts{counts: counts, desc: prometheus.NewDesc("agora_jobs",
		"Jobs in the queue by kind and state: available (due), scheduled (waiting out a backoff or a time), retryable, running, discarded (the dead letter, kept 30 days).",
		[]string{"kind", "state"}, nil)})
	return func(kind, outcome string, wait, run time.Duration) {
		attempts.WithLabelValues(kind, outcome).Inc()
		waits.WithLabelValues(kind).Observe(wait.Seconds())
		runs.WithLabelValues(kind).Observe(run.Seconds())
	}
}

// jobCounts reads the queue's counts at each scrape.
type jobCounts struct {
	counts func() ([]JobCount, error)
	desc   *prometheus.Desc
}

func (c *jobCounts) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *jobCounts) Collect(ch chan<- prometheus.Metric) {
	list, err := c.counts()
	if err != nil {
		// No series rather than a failed scrape: the other metrics matter most when the
		// database is what is in trouble (every connection taken, say).
		return
	}
	for _, jc := range list {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(jc.N), jc.Kind, jc.State)
	}
}
