package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
)

// NewQueue is a job queue on db that works its jobs in this process, polling often. Register the
// workers (the services do as they are built), then StartQueue.
func NewQueue(db *database.DB) *jobs.Queue {
	return jobs.New(db, jobs.Options{Work: true, PollInterval: 100 * time.Millisecond})
}

// StartQueue opens q and starts its workers, stopped when t ends.
func StartQueue(t testing.TB, q *jobs.Queue) {
	t.Helper()
	if err := q.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 20*time.Second)
		defer done()
		if err := q.Stop(stop); err != nil {
			t.Errorf("stopping the job workers: %v", err)
		}
		cancel()
	})
}

// Settle waits until the jobs inserted so far have run, with what their workers do after their
// commit (or wait out a backoff).
func Settle(t testing.TB, q *jobs.Queue) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		idle, err := q.Idle(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("jobs still due or running after a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
