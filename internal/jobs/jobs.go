// Package jobs is Agora's durable job queue: River on the database Agora already has (PostgreSQL,
// or the embedded SQLite file). A job is inserted in the transaction of the write that causes it
// (Insert), so a committed write always gets its job and a rolled-back one never does; workers
// run it with retries and backoff until it succeeds or is discarded (the dead letter state).
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/trace"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/internal/database"
)

// Options configure a Queue.
type Options struct {
	// Work runs workers in this process; without it the process only inserts jobs (agora serve
	// with AGORA_JOBS_WORKERS=false, leaving them to agora worker).
	Work bool
	// Concurrency is how many jobs this process runs at once (default 10).
	Concurrency int
	// Timeout bounds one attempt of a job (default 1m).
	Timeout time.Duration
	// RescueAfter is how long a job may stay running before it is taken for lost (its process
	// died) and retried (default 10m; at least Timeout).
	RescueAfter time.Duration
	// StopGrace is how long Stop lets running jobs finish before it cancels them (default 10s).
	StopGrace time.Duration
	// PollInterval is how often idle workers look for jobs another process inserted when no
	// notification tells them (SQLite has none; default 1s).
	PollInterval time.Duration
	Log          *slog.Logger
	// Tracing gets a span per attempt (river.work/KIND), linked to the span of the request that
	// inserted the job; nil: none.
	Tracing trace.TracerProvider
}

// Queue inserts jobs and, when Options.Work is set, works them.
type Queue struct {
	db       *database.DB
	opts     Options
	log      *slog.Logger
	workers  *river.Workers
	periodic []*river.PeriodicJob
	client   *river.Client[*sql.Tx]
	kinds    []string
	observe  func(kind, outcome string, wait, run time.Duration)
	active   atomic.Int64 // attempts running in this process
}

// New returns a Queue on db. Register workers (AddWorker) and periodic jobs (AddPeriodic), then
// Open it before the first Insert.
func New(db *database.DB, o Options) *Queue {
	if o.Concurrency <= 0 {
		o.Concurrency = 10
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.RescueAfter < o.Timeout {
		o.RescueAfter = max(10*time.Minute, o.Timeout)
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 10 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Queue{db: db, opts: o, log: o.Log, workers: river.NewWorkers()}
}

// AddWorker registers w for the jobs of its kind. Call it before Open.
func AddWorker[T river.JobArgs](q *Queue, w river.Worker[T]) {
	var args T
	q.kinds = append(q.kinds, args.Kind())
	river.AddWorker(q.workers, river.Worker[T](&counted[T]{Worker: w, active: &q.active}))
}

// counted counts the attempts of its worker running in this process (Idle).
type counted[T river.JobArgs] struct {
	river.Worker[T]
	active *atomic.Int64
}

func (c *counted[T]) Work(ctx context.Context, job *river.Job[T]) error {
	c.active.Add(1)
	defer c.active.Add(-1)
	return c.Worker.Work(ctx, job)
}

// AddPeriodic has a job made by args inserted every interval, by one process of those sharing
// the database (River's elected leader), and once at start. Call it before Open.
func (q *Queue) AddPeriodic(every time.Duration, args func() river.JobArgs) {
	q.periodic = append(q.periodic, river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return args(), nil }, &river.PeriodicJobOpts{RunOnStart: true}))
}

// Kinds are the job kinds with a worker, in the order they were registered.
func (q *Queue) Kinds() []string { return q.kinds }

// Open builds the River client. Nothing runs until Start.
func (q *Queue) Open() error {
	cfg := &river.Config{
		Logger:               q.log.With("component", "river"),
		Workers:              q.workers,
		JobTimeout:           q.opts.Timeout,
		RescueStuckJobsAfter: q.opts.RescueAfter,
		SoftStopTimeout:      q.opts.StopGrace,
		FetchPollInterval:    q.opts.PollInterval,
		PeriodicJobs:         q.periodic,
		MaxAttempts:          MaxAttempts,
		// Retries back off as attempt⁴ seconds with jitter (River's default policy): about
		// 1s, 16s, 81s, 4m, 10m… so an SMTP server down for an hour is waited out in 8 tries.
		RetryPolicy: &river.DefaultClientRetryPolicy{},
		// Finished jobs are kept a day for the admins' list; the dead letters (discarded) a month.
		CompletedJobRetentionPeriod: 24 * time.Hour,
		CancelledJobRetentionPeriod: 7 * 24 * time.Hour,
		DiscardedJobRetentionPeriod: 30 * 24 * time.Hour,
	}
	if q.opts.Tracing != nil {
		cfg.Plugins = []rivertype.Plugin{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			TracerProvider: q.opts.Tracing, EnableTracePropagation: true, EnableWorkSpanJobKindSuffix: true,
		})}
	}
	if q.opts.Work {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: q.opts.Concurrency}}
	}
	var (
		driver riverdriver.Driver[*sql.Tx]
		err    error
	)
	switch q.db.Dialect {
	case dialect.Postgres:
		// database/sql for inserts, so that they join ent's transactions (same *sql.Tx); pgx
		// for the LISTEN that wakes workers as soon as a job is committed.
		driver = riverdatabasesql.NewWithPgxListener(q.db.SQL, q.db.Pool())
	default:
		driver = riversqlite.New(q.db.SQL)
	}
	q.client, err = river.NewClient(driver, cfg)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	return nil
}

// MaxAttempts is how many times a job runs before it is discarded (River's default is 25, about
// three weeks of backoff; ours about a day and a half).
const MaxAttempts = 15

// Working reports whether this process runs workers.
func (q *Queue) Working() bool { return q.opts.Work }

// Start starts the workers (when Options.Work) and the periodic jobs. ctx bounds their life:
// cancelling it is a hard stop; Stop is the graceful one.
func (q *Queue) Start(ctx context.Context) error {
	if !q.opts.Work {
		return nil
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	q.observeEvents() // Stopped is known once started
	return nil
}

// Stop stops taking jobs and waits for the running ones: after StopGrace their contexts are
// cancelled (River's soft stop), and whatever has not finished by the end of ctx is left to be
// rescued and retried by another process.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.opts.Work || q.client == nil {
		return nil
	}
	return q.client.Stop(ctx)
}

// Insert adds a job. In a transaction (database.InTx) the job is part of it: it exists only if the
// transaction commits. Outside one it is inserted at once.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	tx, inTx, err := database.SQLTx(ctx)
	if err != nil {
		return err
	}
	if inTx {
		_, err = q.client.InsertTx(ctx, tx, args, opts)
	} else {
		_, err = q.client.Insert(ctx, args, opts)
	}
	if err != nil {
		return fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return nil
}

// Client is the River client, for the admin operations (list, retry, cancel).
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// Complete runs fn in one transaction that also marks job completed, for effects that must
// happen once: if the process dies before the commit, the job runs again and fn's writes were
// rolled back; after it, the job is done. fn's context carries the transaction (ent.FromContext).
func Complete[T river.JobArgs](ctx context.Context, client *ent.Client, job *river.Job[T], fn func(ctx context.Context) error) error {
	return database.InTx(ctx, client, func(ctx context.Context, _ *ent.Tx) error {
		if err := fn(ctx); err != nil {
			return err
		}
		tx, _, err := database.SQLTx(ctx)
		if err != nil {
			return err
		}
		rc := river.ClientFromContext[*sql.Tx](ctx)
		if rc == nil {
			return errors.New("jobs: Complete outside a worker")
		}
		switch rc.Driver().(type) {
		case *riverdatabasesql.Driver:
			_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, job)
		case *riversqlite.Driver:
			_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job)
		default:
			err = fmt.Errorf("jobs: unknown River driver %T", rc.Driver())
		}
		return err
	})
}

// JobRow is a job as River stores it.
type JobRow = rivertype.JobRow

// Idle reports whether no job is due or running anywhere (Busy) and no attempt is still running in
// this process: a job is stored completed when its transaction commits, and what its worker does
// after the commit (a live event) is done once Idle.
func (q *Queue) Idle(ctx context.Context) (bool, error) {
	if q.active.Load() > 0 {
		return false, nil
	}
	n, err := q.Busy(ctx)
	return n == 0 && q.active.Load() == 0, err
}

// Busy counts the jobs not finished yet that are due or running (available, pending, running,
// retryable): zero means every effect inserted so far has happened or is waiting out a backoff
// (scheduled). Up to 100.
func (q *Queue) Busy(ctx context.Context) (int, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().First(100).States(rivertype.JobStateAvailable,
		rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable))
	if err != nil {
		return 0, err
	}
	return len(res.Jobs), nil
}

// Count is how many jobs of one kind are in one state.
type Count struct {
	Kind, State string
	N           int
}

// Counts counts the unfinished jobs and the dead letters (discarded), by kind and state: one
// statement over River's table (its state index), for the metrics.
func (q *Queue) Counts(ctx context.Context) ([]Count, error) {
	rows, err := q.db.SQL.QueryContext(ctx, `SELECT kind, state, COUNT(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'discarded') GROUP BY kind, state`)
	if err != nil {
		return nil, fmt.Errorf("jobs: counts: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Kind, &c.State, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Observe has fn called with every attempt this process finishes: the job's kind, the outcome
// (completed, failed, discarded, cancelled), how long it waited for a worker and how long it ran.
// Call it before Start.
func (q *Queue) Observe(fn func(kind, outcome string, wait, run time.Duration)) { q.observe = fn }

// observeEvents feeds Observe from River's events until they end.
func (q *Queue) observeEvents() {
	if q.observe == nil {
		return
	}
	events, cancel := q.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	stopped := q.client.Stopped()
	go func() {
		defer cancel()
		for {
			var e *river.Event
			select {
			case ev, ok := <-events:
				if !ok {
					return
				}
				e = ev
			case <-stopped:
				return
			}
			if e.Job == nil || e.JobStats == nil {
				continue
			}
			outcome := "completed"
			switch {
			case e.Kind == river.EventKindJobCancelled:
				outcome = "cancelled"
			case e.Kind == river.EventKindJobFailed && e.Job.State == rivertype.JobStateDiscarded:
				outcome = "discarded"
			case e.Kind == river.EventKindJobFailed:
				outcome = "failed"
			}
			q.observe(e.Job.Kind, outcome, e.JobStats.QueueWaitDuration, e.JobStats.RunDuration)
		}
	}()
}
