package ratelimit

import (
	"context"
	"log/slog"
	"sync/atomic"
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

// gcra: KEYS[1] = key; ARGV = interval (µs), period (µs), events wanted. Takes as many of the
// wanted events as the budget holds, at least one or none. The server's clock is the one clock, so
// replicas with skewed clocks agree. Returns {events taken, remaining, retry after (µs), reset
// after (µs)}.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local n = math.min(tonumber(ARGV[3]), math.floor((now + period - tat) / interval))
if n < 1 then return {0, 0, tat + interval - period - now, tat - now} end
local nexttat = tat + n * interval
redis.call('SET', KEYS[1], nexttat, 'PX', math.ceil((nexttat - now) / 1000))
return {n, math.floor((period - (nexttat - now)) / interval), 0, nexttat - now}
`)

// refund: KEYS[1] = key; ARGV = interval (µs). Moves the theoretical arrival time back by one
// interval, not before now (a full bucket holds no key).
var refund = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
tat = tat - tonumber(ARGV[1])
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], tat, 'PX', math.ceil((tat - now) / 1000))
end
return 1
`)

// Refund implements Limiter.
func (r *Redis) Refund(ctx context.Context, key string, l Limit) error {
	return refund.Run(ctx, r.client, []string{r.prefix + key}, micros(emission(l))).Err()
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	_, res, err := r.take(ctx, key, l, 1)
	return res, err
}

// micros is d in whole microseconds, the script's unit, at least 1: a budget of more than an event
// a microsecond is counted as one event a microsecond (PX 0 would fail the script).
func micros(d time.Duration) int64 { return max(1, d.Microseconds()) }

// take takes up to n events at once (at least one, or none when refused) and says how many.
func (r *Redis) take(ctx context.Context, key string, l Limit, n int) (int, Result, error) {
	res, err := gcra.Run(ctx, r.client, []string{r.prefix + key}, micros(emission(l)), l.Per.Microseconds(), n).Int64Slice()
	if err != nil {
		return 0, Result{}, err
	}
	return int(res[0]), Result{Allowed: res[0] >= 1, Remaining: int(res[1]),
		RetryAfter: time.Duration(res[2]) * time.Microsecond, ResetAfter: time.Duration(res[3]) * time.Microsecond}, nil
}

// Fallback is a Limiter that asks Primary (Redis) first and, when it fails, Secondary (in-process)
// instead, so a Redis outage neither fails requests nor lifts the limits: each replica then
// counts on its own. Every call tries Primary again, so limits are shared again as soon as Redis
// answers. Switches either way are logged once.
type Fallback struct {
	Primary, Secondary Limiter
	Log                *slog.Logger
	down               atomic.Bool
}

// Allow implements Limiter. It never returns an error from Primary.
func (f *Fallback) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := f.Primary.Allow(ctx, key, l)
	if err == nil {
		if f.down.CompareAndSwap(true, false) {
			f.Log.InfoContext(ctx, "rate limits are shared through Redis again")
		}
		return res, nil
	}
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	if f.down.CompareAndSwap(false, true) {
		f.Log.WarnContext(ctx, "rate limits fall back to this process while Redis fails: each replica counts on its own", "err", err)
	}
	return f.Secondary.Allow(ctx, key, l)
}

// Refund implements Limiter: in Primary, or in Secondary while Primary fails.
func (f *Fallback) Refund(ctx context.Context, key string, l Limit) error {
	if err := f.Primary.Refund(ctx, key, l); err != nil {
		return f.Secondary.Refund(ctx, key, l)
	}
	return nil
}
