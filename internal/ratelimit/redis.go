package ratelimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Limiter shared by every replica using the same Redis: the same GCRA as Memory, run
// atomically in a script, one key per limited key.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a Limiter storing its state under prefix in Redis.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// gcra: KEYS[1] = key; ARGV = interval (µs), period (µs). The server's clock is the one clock, so
// replicas with skewed clocks agree. Returns {allowed (0/1), retry after (µs)}.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nexttat = tat + interval
local allow_at = nexttat - period
if now < allow_at then return {0, allow_at - now} end
redis.call('SET', KEYS[1], nexttat, 'PX', math.ceil((nexttat - now) / 1000))
return {1, 0}
`)

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (bool, time.Duration, error) {
	interval := (l.Per / time.Duration(l.Burst)).Microseconds()
	res, err := gcra.Run(ctx, r.client, []string{r.prefix + key}, interval, l.Per.Microseconds()).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}
