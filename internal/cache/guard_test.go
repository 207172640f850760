package cache_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/testenv"
)

// TestGuard: with a real redis-server paused (SIGSTOP), a command waits at most MaxWait, then
// the breaker fails every command at once; once Redis answers again, the recovery functions run
// before commands reach it. A request's budget bounds its commands together.
func TestGuard(t *testing.T) {
	srv := testenv.NewRedisServer(t)
	rdb, err := cache.OpenRedis(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	const maxWait = 200 * time.Millisecond
	g := cache.NewGuard(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)), maxWait)
	t.Cleanup(g.Close)
	var mu sync.Mutex
	var events []string
	note := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	g.OnRecover(func(ctx context.Context) error {
		note("recover")
		return rdb.Set(ctx, "recovered", "1", 0).Err() // its commands pass while the breaker is open
	})
	ctx := t.Context()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil || !g.Up() {
		t.Fatalf("with Redis up: %v, up %t", err, g.Up())
	}

	// A request whose budget is spent fails at once, without opening the breaker.
	spent := cache.WithWaitBudget(ctx, time.Nanosecond)
	_ = rdb.Get(spent, "k").Err() // takes the nanosecond
	if err := rdb.Get(spent, "k").Err(); !errors.Is(err, cache.ErrRedisUnavailable) || !g.Up() {
		t.Fatalf("past the request's budget: %v, up %t", err, g.Up())
	}

	srv.Pause(t)
	start := time.Now()
	if err := rdb.Get(ctx, "k").Err(); err == nil {
		t.Fatal("a command answered by a paused Redis")
	}
	// Generous bounds, to tell "waited MaxWait" from "waited the connection's timeouts and retries".
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the first command waited %v for a paused Redis, want about %v", took, maxWait)
	}
	if g.Up() {
		t.Fatal("the breaker stayed closed after a command went unanswered")
	}
	start = time.Now()
	for range 100 {
		if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, cache.ErrRedisUnavailable) {
			t.Fatalf("with the breaker open: %v", err)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("100 commands took %v with the breaker open, want each to fail at once", took)
	}

	srv.Resume(t)
	giveUp := time.Now().Add(10 * time.Second) // a guard against hanging, not a speed check
	for !g.Up() {
		if time.Now().After(giveUp) {
			t.Fatal("the breaker did not close once Redis answered again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	note("up")
	if err := rdb.Get(ctx, "k").Err(); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if v, err := rdb.Get(ctx, "recovered").Result(); err != nil || v != "1" {
		t.Fatalf("the recovery function's command: %q %v", v, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0] != "recover" {
		t.Fatalf("events %v, want recovery before the breaker closed", events)
	}
}
