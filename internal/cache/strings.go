// Package cache holds the caches replicas share through Redis, each with an in-process
// implementation for a single replica.
package cache

import (
	"context"
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
