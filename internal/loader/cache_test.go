package loader

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agora/agora/internal/cache"
)

// TestCacheCollapsesMisses: requests missing one key while another request reads it wait for that
// read instead of running their own, and get its value.
func TestCacheCollapsesMisses(t *testing.T) {
	c := NewCache(cache.NewMemoryStore(100))
	var reads atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	read := func(_ context.Context, keys []string) (map[string][]byte, error) {
		if reads.Add(1) == 1 {
			close(entered)
			<-release
		}
		out := map[string][]byte{}
		for _, k := range keys {
			out[k] = []byte("value of " + k)
		}
		return out, nil
	}
	const n = 50
	got := make([]string, n)
	var wg sync.WaitGroup
	load := func(i int) {
		defer wg.Done()
		vals, err := c.load(t.Context(), []string{"hot"}, time.Minute, read)
		if err != nil {
			t.Error(err)
		}
		got[i] = string(vals["hot"])
	}
	wg.Add(n)
	go load(0)
	<-entered // the first request is reading "hot"
	for i := 1; i < n; i++ {
		go load(i)
	}
	giveUp := time.Now().Add(time.Minute) // a guard against hanging, not a speed check
	for c.Stats().Collapsed < n-1 {       // every other request is waiting for that read
		if time.Now().After(giveUp) {
			t.Fatalf("only %d of %d requests joined the read in flight", c.Stats().Collapsed, n-1)
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if r := reads.Load(); r != 1 {
		t.Fatalf("%d concurrent misses of one key ran %d reads, want 1", n, r)
	}
	for i, v := range got {
		if v != "value of hot" {
			t.Fatalf("request %d got %q", i, v)
		}
	}
	if s := c.Stats(); s.Misses != 1 || s.Collapsed != n-1 {
		t.Fatalf("stats: %+v", s)
	}
}
