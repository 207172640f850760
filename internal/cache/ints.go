package cache

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Ints caches integers by key (counts, mostly). Errors mean "not cached": callers fall back to the
// database, so a cache that is down slows requests but never fails them.
type Ints interface {
	// GetMany returns the cached values of keys; missing keys are absent from the map.
	GetMany(ctx context.Context, keys []string) (map[string]int, error)
	// SetMany caches values for ttl.
	SetMany(ctx context.Context, values map[string]int, ttl time.Duration) error
	// Delete drops keys, after the data behind them changed.
	Delete(ctx context.Context, keys ...string) error
}

// RedisInts is Ints in Redis, shared by replicas: one MGET per read, one pipeline per write.
type RedisInts struct{ client redis.UniversalClient }

// NewRedisInts returns Ints stored in Redis.
func NewRedisInts(client redis.UniversalClient) *RedisInts { return &RedisInts{client: client} }

// GetMany implements Ints.
func (c *RedisInts) GetMany(ctx context.Context, keys []string) (map[string]int, error) {
	vals, err := c.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(keys))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			if n, err := strconv.Atoi(s); err == nil {
				out[keys[i]] = n
			}
		}
	}
	return out, nil
}

// SetMany implements Ints.
func (c *RedisInts) SetMany(ctx context.Context, values map[string]int, ttl time.Duration) error {
	_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, v := range values {
			p.Set(ctx, k, v, ttl)
		}
		return nil
	})
	return err
}

// Delete implements Ints.
func (c *RedisInts) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	return c.client.Del(ctx, keys...).Err()
}

// MemoryInts is Ints in this process, for a single replica.
type MemoryInts struct {
	mu sync.Mutex
	m  map[string]memoryInt
}

type memoryInt struct {
	v       int
	expires time.Time
}

// NewMemoryInts returns an empty in-process Ints.
func NewMemoryInts() *MemoryInts { return &MemoryInts{m: map[string]memoryInt{}} }

// GetMany implements Ints.
func (c *MemoryInts) GetMany(_ context.Context, keys []string) (map[string]int, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		if e, ok := c.m[k]; ok && now.Before(e.expires) {
			out[k] = e.v
		}
	}
	return out, nil
}

// SetMany implements Ints.
func (c *MemoryInts) SetMany(_ context.Context, values map[string]int, ttl time.Duration) error {
	exp := time.Now().Add(ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 200_000 { // bound memory; entries refill from the database
		clear(c.m)
	}
	for k, v := range values {
		c.m[k] = memoryInt{v: v, expires: exp}
	}
	return nil
}

// Delete implements Ints.
func (c *MemoryInts) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.m, k)
	}
	return nil
}
