package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewMemory()
	m.now = func() time.Time { return now }
	l := Limit{Burst: 3, Per: time.Minute}
	ctx := context.Background()
	for i := range 3 {
		if ok, _, _ := m.Allow(ctx, "k", l); !ok {
			t.Fatalf("event %d of a burst of 3 refused", i+1)
		}
	}
	ok, retry, _ := m.Allow(ctx, "k", l)
	if ok || retry != 20*time.Second {
		t.Fatalf("4th event: ok %t retry %v, want refused for 20s", ok, retry)
	}
	if ok, _, _ := m.Allow(ctx, "other", l); !ok {
		t.Fatal("keys share a bucket")
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
