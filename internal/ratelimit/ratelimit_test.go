package ratelimit

import (
	"context"
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
	for name, l := range map[string]Limiter{"memory": NewMemory(), "redis": NewRedis(client, "test:")} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			limit := Limit{Burst: 3, Per: time.Hour}
			for i := range 3 {
				if ok, _, err := l.Allow(ctx, "k", limit); !ok || err != nil {
					t.Fatalf("event %d of a burst of 3 refused: %v", i+1, err)
				}
			}
			ok, retry, err := l.Allow(ctx, "k", limit)
			if ok || err != nil || retry < 19*time.Minute || retry > 20*time.Minute {
				t.Fatalf("4th event: ok %t retry %v err %v, want refused for about 20m", ok, retry, err)
			}
			if ok, _, _ := l.Allow(ctx, "other", limit); !ok {
				t.Fatal("keys share a bucket")
			}
		})
	}
}

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
	if ok, retry, _ := m.Allow(ctx, "k", l); ok || retry != 20*time.Second {
		t.Fatalf("4th event: ok %t retry %v, want refused for 20s", ok, retry)
	}
	now = now.Add(20 * time.Second)
	if ok, _, _ := m.Allow(ctx, "k", l); !ok {
		t.Fatal("refused after the retry time")
	}
	if ok, _, _ := m.Allow(ctx, "k", l); ok {
		t.Fatal("one refill allowed two events")
	}
}

func TestParse(t *testing.T) {
	if l, err := Parse("10/15m"); err != nil || l != (Limit{Burst: 10, Per: 15 * time.Minute}) {
		t.Fatalf("Parse: %v %v", l, err)
	}
	for _, bad := range []string{"", "10", "0/1m", "x/1m", "10/soon"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
