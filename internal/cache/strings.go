// Package cache holds the caches replicas share through Redis, each with an in-process
// implementation for a single replica.
package cache

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStrings is a string cache in Redis: Get and Add, with a TTL on every entry. Redis errors
// read as misses: a cache that is down must not fail requests.
type RedisStrings struct {
	client redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// NewRedisStrings returns a cache storing entries under prefix for ttl.
func NewRedisStrings(client redis.UniversalClient, prefix string, ttl time.Duration) *RedisStrings {
	return &RedisStrings{client: client, prefix: prefix, ttl: ttl}
}

// Get returns the value under key, if any.
func (c *RedisStrings) Get(ctx context.Context, key string) (string, bool) {
	v, err := c.client.Get(ctx, c.prefix+key).Result()
	return v, err == nil
}

// Add stores value under key.
func (c *RedisStrings) Add(ctx context.Context, key, value string) {
	c.client.Set(ctx, c.prefix+key, value, c.ttl)
}

// Strings is a string cache, such as the one persisted queries are kept in.
type Strings interface {
	Get(ctx context.Context, key string) (string, bool)
	Add(ctx context.Context, key, value string)
}

// Layered is a Strings cache for entries that never change once written (persisted queries are
// keyed by their hash): Near (in this process) first, then Far (Redis, shared), and Far's hits
// are copied Near. Writes go to both, so while Redis is down each process still knows what it
// has seen.
type Layered struct{ Near, Far Strings }

// Get returns the value under key, if any.
func (c Layered) Get(ctx context.Context, key string) (string, bool) {
	if v, ok := c.Near.Get(ctx, key); ok {
		return v, true
	}
	v, ok := c.Far.Get(ctx, key)
	if ok {
		c.Near.Add(ctx, key, v)
	}
	return v, ok
}

// Add stores value under key in both layers.
func (c Layered) Add(ctx context.Context, key, value string) {
	c.Near.Add(ctx, key, value)
	c.Far.Add(ctx, key, value)
}

// LRUStrings is a Strings cache in this process bounded by the bytes of its keys and values: the
// least recently used entries go first. An entry larger than the bound is not kept.
type LRUStrings struct {
	max int

	mu    sync.Mutex
	size  int
	order *list.List               // most recently used first; values are *lruEntry
	items map[string]*list.Element // by key
}

type lruEntry struct{ key, value string }

// entryOverhead approximates what an entry costs beyond its key and value (list element, map
// slot, string headers), so that many tiny entries are bounded too.
const entryOverhead = 128

// NewLRUStrings returns an empty cache holding at most maxBytes.
func NewLRUStrings(maxBytes int) *LRUStrings {
	return &LRUStrings{max: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

func entrySize(key, value string) int { return len(key) + len(value) + entryOverhead }

// Get returns the value under key, if any, and marks it used.
func (c *LRUStrings) Get(_ context.Context, key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).value, true
}

// Add stores value under key, dropping the least recently used entries to stay within the bound.
func (c *LRUStrings) Add(_ context.Context, key, value string) {
	n := entrySize(key, value)
	if n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry)
		c.size += n - entrySize(e.key, e.value)
		e.value = value
		c.order.MoveToFront(el)
	} else {
		c.items[key] = c.order.PushFront(&lruEntry{key: key, value: value})
		c.size += n
	}
	for c.size > c.max {
		el := c.order.Back()
		e := el.Value.(*lruEntry)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.size -= entrySize(e.key, e.value)
	}
}

// Bytes is what the cache holds, as it counts it.
func (c *LRUStrings) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
