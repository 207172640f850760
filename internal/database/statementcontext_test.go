package database

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestStatementContext: a statement's context keeps what context.Context promises after the
// statement is done (the same Done channel, Deadline, and an Err once cancelled), and none of
// its caller's values.
func TestStatementContext(t *testing.T) {
	type key struct{}
	deadline := time.Now().Add(time.Hour)
	caller, cancel := context.WithDeadline(context.WithValue(context.Background(), key{}, "request"), deadline)
	c := newStatementContext(caller)
	ch := c.Done()
	if c.Value(key{}) != "request" || c.Err() != nil {
		t.Fatalf("while the statement runs: value %v, err %v", c.Value(key{}), c.Err())
	}
	c.done()
	if c.Done() != ch {
		t.Error("Done changed when the statement was done")
	}
	if d, ok := c.Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("deadline %v %v after the statement, want %v", d, ok, deadline)
	}
	if c.Value(key{}) != nil || c.Err() != nil {
		t.Errorf("after the statement: value %v, err %v", c.Value(key{}), c.Err())
	}
	cancel()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed when the caller was cancelled")
	}
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v after the caller was cancelled", err)
	}

	// Done while the caller's deadline had passed: its error is kept.
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	c = newStatementContext(expired)
	c.done()
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v for an expired caller", err)
	}
}
