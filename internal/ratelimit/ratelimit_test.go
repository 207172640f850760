package ratelimit

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agora/agora/internal/testenv"
)

// Both limiters must follow the same rules; Redis runs on a real server.
func TestLimiters(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	for name, l := range map[string]Limiter{"memory": NewMemory(), "redis": NewRedis(client, "test:"), "leased": NewLeased(NewRedis(client, "leased:"))} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			limit := Limit{Burst: 3, Per: time.Hour}
			for i := range 3 {
				res, err := l.Allow(ctx, "k", limit)
				if !res.Allowed || err != nil {
					t.Fatalf("event %d of a burst of 3 refused: %v", i+1, err)
				}
				// After event i+1, 2-i remain, and the bucket is whole again (i+1)×20 minutes on.
				if res.Remaining != 2-i || !near(res.ResetAfter, time.Duration(i+1)*20*time.Minute) {
					t.Fatalf("event %d: %+v, want %d remaining and a reset in %v", i+1, res, 2-i, time.Duration(i+1)*20*time.Minute)
				}
			}
			res, err := l.Allow(ctx, "k", limit)
			if res.Allowed || err != nil || !near(res.RetryAfter, 20*time.Minute) || res.Remaining != 0 || !near(res.ResetAfter, time.Hour) {
				t.Fatalf("4th event: %+v err %v, want refused for about 20m", res, err)
			}
			if res, _ := l.Allow(ctx, "other", limit); !res.Allowed {
				t.Fatal("keys share a bucket")
			}
			// A refunded event can be taken again; a full budget stays full.
			if err := l.Refund(ctx, "k", limit); err != nil {
				t.Fatal(err)
			}
			if res, _ := l.Allow(ctx, "k", limit); !res.Allowed || res.Remaining != 0 {
				t.Fatalf("after a refund: %+v, want one event allowed", res)
			}
			if res, _ := l.Allow(ctx, "k", limit); res.Allowed {
				t.Fatal("one refund allowed two events")
			}
			for range 5 {
				if err := l.Refund(ctx, "new", limit); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 4 {
				if res, _ := l.Allow(ctx, "new", limit); res.Allowed != (i < 3) {
					t.Fatalf("after refunds to a full budget, event %d: %+v, want a burst of 3 only", i+1, res)
				}
			}
		})
	}
}

// near allows for the time a Redis round trip takes.
func near(got, want time.Duration) bool { return got <= want && got > want-time.Minute }

// Refill timing, on the in-process limiter's controllable clock.
func TestMemoryRefill(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewMemory()
	m.now = func() time.Time { return now }
	l := Limit{Burst: 3, Per: time.Minute}
	ctx := context.Background()
	for range 3 {
		m.Allow(ctx, "k", l)
	}
	if res, _ := m.Allow(ctx, "k", l); res.Allowed || res.RetryAfter != 20*time.Second {
		t.Fatalf("4th event: %+v, want refused for 20s", res)
	}
	now = now.Add(20 * time.Second)
	if res, _ := m.Allow(ctx, "k", l); !res.Allowed || res.Remaining != 0 {
		t.Fatalf("after the retry time: %+v, want allowed with none remaining", res)
	}
	if res, _ := m.Allow(ctx, "k", l); res.Allowed {
		t.Fatal("one refill allowed two events")
	}
}

// Fallback counts in-process while Redis is unreachable, without an error, and in Redis again
// once it answers.
func TestFallback(t *testing.T) {
	srv := testenv.NewRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialerRetries: 1})
	defer client.Close()
	f := &Fallback{Primary: NewRedis(client, "test:"), Secondary: NewMemory(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	limit := Limit{Burst: 2, Per: time.Hour}
	allow := func(key string) bool {
		t.Helper()
		res, err := f.Allow(ctx, key, limit)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		return res.Allowed
	}
	if !allow("k") {
		t.Fatal("first event refused")
	}
	srv.Stop(t)
	if !allow("k") || !allow("k") || allow("k") {
		t.Fatal("with Redis down, the in-process budget of 2 is not applied")
	}
	srv.Start(t) // empty: it keeps nothing across a restart
	if !allow("k") || !allow("k") || allow("k") {
		t.Fatal("after Redis is back, the budget is not counted in Redis")
	}
	if n, err := client.Exists(ctx, "test:k").Result(); err != nil || n != 1 {
		t.Fatalf("key in Redis: %d %v", n, err)
	}
}

// Leased: a large budget costs a Redis round trip per lease, not per event; two replicas leasing
// from one Redis together get exactly the budget in a burst; small budgets are not leased.
func TestLeased(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx := context.Background()
	a, b := NewLeased(NewRedis(client, "test:")), NewLeased(NewRedis(client, "test:"))

	large := Limit{Burst: 1000, Per: time.Hour} // leases of 20
	stored := func(key string) string { v, _ := client.Get(ctx, "test:"+key).Result(); return v }
	var first string
	for i := range 20 {
		res, err := a.Allow(ctx, "big", large)
		if err != nil || !res.Allowed || res.Remaining != 999-i {
			t.Fatalf("event %d: %+v %v, want allowed with %d remaining", i+1, res, err, 999-i)
		}
		if i == 0 {
			first = stored("big")
		} else if stored("big") != first {
			t.Fatalf("event %d went to Redis: the lease of 20 was taken at the first", i+1)
		}
	}
	if res, _ := a.Allow(ctx, "big", large); !res.Allowed || stored("big") == first {
		t.Fatalf("event 21: %+v, want a new lease from Redis", res)
	}

	shared := Limit{Burst: 100, Per: time.Hour} // leases of 2
	allowed := 0
	for i := range 120 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if res, _ := l.Allow(ctx, "shared", shared); res.Allowed {
			allowed++
		}
	}
	if allowed != 100 {
		t.Fatalf("two replicas allowed %d events of a burst of 100", allowed)
	}

	small := Limit{Burst: 3, Per: time.Hour}
	for i := range 4 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if res, _ := l.Allow(ctx, "small", small); res.Allowed != (i < 3) || res.Allowed && res.Remaining != 2-i {
			t.Fatalf("small budget, event %d: %+v", i+1, res)
		}
	}
}

// A budget of more than an event a microsecond is counted in Redis too (as one a microsecond).
func TestRedisHugeBudget(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	res, err := NewRedis(client, "test:").Allow(context.Background(), "k", Limit{Burst: 1_000_000_000, Per: time.Minute})
	if err != nil || !res.Allowed {
		t.Fatalf("%+v %v", res, err)
	}
}
