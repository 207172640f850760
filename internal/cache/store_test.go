package cache_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestStore: both stores keep the contract the loaders rely on.
func TestStore(t *testing.T) {
	stores := map[string]func(t *testing.T) cache.Store{
		"memory": func(*testing.T) cache.Store { return cache.NewMemoryStore(1000) },
		"redis": func(t *testing.T) cache.Store { // as production opens it, with its small buffers
			rdb, err := cache.OpenRedis(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), testenv.RedisURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rdb.Close() })
			return cache.NewRedisStore(rdb)
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, ctx := open(t), t.Context()
			get := func(keys ...string) (map[string][]byte, int64) {
				t.Helper()
				vals, version, err := s.GetMany(ctx, keys)
				if err != nil {
					t.Fatal(err)
				}
				return vals, version
			}
			fill := func(version int64, key, value string) bool {
				t.Helper()
				stored, err := s.Fill(ctx, version, []cache.Entry{{Key: key, Value: []byte(value), TTL: time.Minute}})
				if err != nil {
					t.Fatal(err)
				}
				return stored[key]
			}

			vals, v0 := get("a", "empty")
			if len(vals) != 0 {
				t.Fatalf("a new store holds %v", vals)
			}
			if !fill(v0, "a", "1") || !fill(v0, "empty", "") {
				t.Fatal("fills of empty keys were refused")
			}
			if fill(v0, "a", "2") {
				t.Fatal("a fill replaced a cached value")
			}
			vals, _ = get("a", "empty", "missing")
			if string(vals["a"]) != "1" || vals["empty"] == nil || len(vals["empty"]) != 0 || vals["missing"] != nil {
				t.Fatalf("want a=1, empty present and empty, missing absent; got %q", vals)
			}

			// A reader that read before an invalidation cannot fill over it; one that read after can.
			_, before := get("a")
			if err := s.Invalidate(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			vals, after := get("a")
			if _, ok := vals["a"]; ok {
				t.Fatalf("an invalidated key reads %q", vals["a"])
			}
			if fill(before, "a", "stale") {
				t.Fatal("a fill read before the invalidation replaced it")
			}
			if !fill(after, "a", "fresh") {
				t.Fatal("a fill read after the invalidation was refused")
			}
			if vals, _ = get("a"); string(vals["a"]) != "fresh" {
				t.Fatalf("want a=fresh, got %q", vals["a"])
			}

			// Values and replies far larger than the connections' buffers come back whole.
			_, v := get("big")
			big := strings.Repeat("0123456789", 30_000)
			keys := []string{"big"}
			for i := range 100 {
				key := fmt.Sprint("k", i)
				keys = append(keys, key)
				if !fill(v, key, big[:3000]+key) {
					t.Fatal("fill refused")
				}
			}
			if !fill(v, "big", big) {
				t.Fatal("fill refused")
			}
			vals, _ = get(keys...)
			if string(vals["big"]) != big || string(vals["k99"]) != big[:3000]+"k99" || len(vals) != len(keys) {
				t.Fatalf("read back %d of %d values; big is %d bytes", len(vals), len(keys), len(vals["big"]))
			}
		})
	}
}

// TestRedisStoreOutage: an invalidation made while Redis is unreachable reaches it once it is
// back, before anything is read from it, so a Redis that kept its data does not serve the value
// the write replaced. Until then the key is neither read nor filled.
func TestRedisStoreOutage(t *testing.T) {
	t.Parallel()
	srv := testenv.NewDurableRedisServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	s, ctx := cache.NewRedisStore(rdb), t.Context()
	_, v, err := s.GetMany(ctx, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if stored, err := s.Fill(ctx, v, []cache.Entry{{Key: "a", Value: []byte("old"), TTL: time.Hour}}); err != nil || !stored["a"] {
		t.Fatalf("fill: %v %v", stored, err)
	}

	srv.Stop(t)
	if err := s.Invalidate(ctx, "a"); err == nil {
		t.Fatal("an invalidation succeeded with Redis down")
	}
	if _, _, err := s.GetMany(ctx, []string{"a"}); err == nil {
		t.Fatal("a read succeeded with Redis down")
	}
	srv.Start(t)
	if got, err := rdb.Get(ctx, "a").Result(); err != nil || got != "old" {
		t.Fatalf("Redis came back without its data: %q %v", got, err)
	}
	if stored, err := s.Fill(ctx, v, []cache.Entry{{Key: "a", Value: []byte("stale"), TTL: time.Hour}}); err != nil || stored["a"] {
		t.Fatalf("a key whose invalidation is pending was filled: %v %v", stored, err)
	}
	vals, v2, err := s.GetMany(ctx, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := vals["a"]; ok {
		t.Fatalf("after Redis came back, the invalidated key reads %q", vals["a"])
	}
	if stored, err := s.Fill(ctx, v2, []cache.Entry{{Key: "a", Value: []byte("new"), TTL: time.Hour}}); err != nil || !stored["a"] {
		t.Fatalf("a fill after the invalidation went through was refused: %v %v", stored, err)
	}
}
