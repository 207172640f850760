package cache_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/agora/agora/internal/cache"
)

// TestLRUStrings: the in-process string cache is bounded by bytes, not entries, and drops the
// least recently used first.
func TestLRUStrings(t *testing.T) {
	ctx := t.Context()
	c := cache.NewLRUStrings(10_000)
	big := strings.Repeat("x", 3_000)
	for i := range 3 {
		c.Add(ctx, "k"+strconv.Itoa(i), big)
	}
	if _, ok := c.Get(ctx, "k0"); !ok { // k0 is now the most recently used
		t.Fatal("k0 dropped while within the bound")
	}
	c.Add(ctx, "k3", big) // over 10,000 bytes: the least recently used (k1) goes
	if _, ok := c.Get(ctx, "k1"); ok {
		t.Fatal("k1, least recently used, kept past the bound")
	}
	for _, k := range []string{"k0", "k2", "k3"} {
		if v, ok := c.Get(ctx, k); !ok || v != big {
			t.Fatalf("%s dropped", k)
		}
	}
	if n := c.Bytes(); n > 10_000 {
		t.Fatalf("holds %d bytes, bound 10,000", n)
	}
	c.Add(ctx, "huge", strings.Repeat("y", 20_000)) // larger than the whole bound: not kept, nothing dropped
	if _, ok := c.Get(ctx, "huge"); ok {
		t.Fatal("an entry larger than the bound was kept")
	}
	if _, ok := c.Get(ctx, "k3"); !ok {
		t.Fatal("an entry too large to keep evicted others")
	}
	for i := range 10_000 { // many small entries are bounded too
		c.Add(ctx, strconv.Itoa(i), "v")
	}
	if n := c.Bytes(); n > 10_000 {
		t.Fatalf("holds %d bytes after many small entries, bound 10,000", n)
	}
}
