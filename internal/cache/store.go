package cache

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store caches byte values by key for the loaders: entities, counts, negative entries. Errors
// mean "not cached": callers fall back to the database, so a cache that is down slows requests
// but never fails them.
//
// Writers Invalidate what they changed right after commit. That leaves a marker numbered from a
// sequence that every invalidation advances. GetMany reports the sequence as it reads, and Fill
// passes it back: a fill may replace a marker only if it read after the marker was set, so a
// reader that read the database before a commit cannot put its stale value back.
type Store interface {
	// GetMany returns the cached values of keys (missing and invalidated keys are absent) and the
	// version to Fill with.
	GetMany(ctx context.Context, keys []string) (vals map[string][]byte, version int64, err error)
	// Fill caches entries read at version, each only if its key is empty or holds a marker set
	// before version, and reports the keys it stored.
	Fill(ctx context.Context, version int64, entries []Entry) (stored map[string]bool, err error)
	// Invalidate drops keys after the data behind them changed.
	Invalidate(ctx context.Context, keys ...string) error
}

// Entry is a value to cache under Key for TTL.
type Entry struct {
	Key   string
	Value []byte
	TTL   time.Duration
}

// markerTTL is how long an invalidation marker outlives its write: longer than any read takes
// from its GetMany to its Fill.
const markerTTL = time.Minute

// markerPrefix starts the value of an invalidated key; the sequence number follows. Cached values
// never start with it: entities are JSON, counts decimal, negative entries empty.
const markerPrefix = "\x00invalidated:"

func marker(seq int64) string { return markerPrefix + strconv.FormatInt(seq, 10) }

// markerSeq returns the sequence number of a marker value.
func markerSeq(v string) (int64, bool) {
	s, ok := strings.CutPrefix(v, markerPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// RedisStore is a Store in Redis, shared by replicas: one round trip per read, per fill and per
// invalidation.
//
// An invalidation that fails (Redis is unreachable) is kept and sent again before the next read,
// and its keys are not filled meanwhile: a Redis that comes back with its data (persistence, or
// only this replica was cut off) must not serve what this replica's writes changed meanwhile.
type RedisStore struct {
	client redis.UniversalClient
	seq    string // key of the invalidation sequence

	mu      sync.Mutex
	pending map[string]struct{} // keys whose invalidation has not reached Redis yet
}

// maxPending bounds the invalidations kept while Redis is unreachable; beyond it the oldest
// writes' keys may read stale until their TTL.
const maxPending = 100_000

// NewRedisStore returns a Store in Redis.
func NewRedisStore(client redis.UniversalClient) *RedisStore {
	return &RedisStore{client: client, seq: "agora:cache:seq", pending: map[string]struct{}{}}
}

// Flush sends the invalidations that failed before, e.g. as soon as Redis answers again (see
// Guard.OnRecover), so that other replicas reading Redis see them.
func (c *RedisStore) Flush(ctx context.Context) error { return c.retryPending(ctx) }

// retryPending sends the invalidations that failed before; until it succeeds, reads are misses.
func (c *RedisStore) retryPending(ctx context.Context) error {
	c.mu.Lock()
	keys := make([]string, 0, len(c.pending))
	for k := range c.pending {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	return c.Invalidate(ctx, keys...) // removes them from pending when it succeeds
}

// GetMany implements Store.
func (c *RedisStore) GetMany(ctx context.Context, keys []string) (map[string][]byte, int64, error) {
	if len(keys) == 0 {
		return nil, 0, nil
	}
	if err := c.retryPending(ctx); err != nil {
		return nil, 0, err
	}
	var vals *redis.SliceCmd
	var seq *redis.StringCmd
	if _, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		vals = p.MGet(ctx, keys...)
		seq = p.Get(ctx, c.seq)
		return nil
	}); err != nil && err != redis.Nil {
		return nil, 0, err
	}
	version, _ := seq.Int64() // no sequence yet: nothing was invalidated
	out := make(map[string][]byte, len(keys))
	for i, v := range vals.Val() {
		if s, ok := v.(string); ok && !strings.HasPrefix(s, markerPrefix) {
			out[keys[i]] = []byte(s)
		}
	}
	return out, version, nil
}

// fillScript sets each key whose value is absent or a marker numbered at most ARGV[1].
var fillScript = redis.NewScript(`
local version = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local cur = redis.call('GET', key)
  local ok = not cur
  if cur and string.sub(cur, 1, #ARGV[2]) == ARGV[2] then
    ok = tonumber(string.sub(cur, #ARGV[2] + 1)) <= version
  end
  if ok then
    redis.call('SET', key, ARGV[1 + 2 * i], 'PX', ARGV[2 + 2 * i])
  end
  out[i] = ok and 1 or 0
end
return out`)

// Fill implements Store.
func (c *RedisStore) Fill(ctx context.Context, version int64, entries []Entry) (map[string]bool, error) {
	c.mu.Lock()
	if len(c.pending) > 0 {
		entries = slices.DeleteFunc(slices.Clone(entries), func(e Entry) bool { _, ok := c.pending[e.Key]; return ok })
	}
	c.mu.Unlock()
	if len(entries) == 0 {
		return nil, nil
	}
	keys := make([]string, len(entries))
	args := make([]any, 0, 2+2*len(entries))
	args = append(args, version, markerPrefix)
	for i, e := range entries {
		keys[i] = e.Key
		args = append(args, e.Value, e.TTL.Milliseconds())
	}
	res, err := fillScript.Run(ctx, c.client, keys, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	stored := make(map[string]bool, len(entries))
	for i, e := range entries {
		stored[e.Key] = res[i] == 1
	}
	return stored, nil
}

// invalidateScript advances the sequence (KEYS[1]) and marks the other keys with it.
var invalidateScript = redis.NewScript(`
local seq = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1] .. seq, 'PX', ARGV[2])
end
return seq`)

// Invalidate implements Store.
func (c *RedisStore) Invalidate(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	err := invalidateScript.Run(ctx, c.client, append([]string{c.seq}, keys...), markerPrefix, markerTTL.Milliseconds()).Err()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if err == nil {
			delete(c.pending, k)
		} else if len(c.pending) < maxPending {
			c.pending[k] = struct{}{}
		}
	}
	return err
}

// MemoryStore is a Store in this process, for a single replica.
type MemoryStore struct {
	mu  sync.Mutex
	m   map[string]memoryEntry
	seq int64
	max int
}

type memoryEntry struct {
	v       []byte
	marker  int64 // the sequence number of an invalidation marker, 0 for a value
	expires time.Time
}

// NewMemoryStore returns an empty in-process Store holding at most max entries.
func NewMemoryStore(max int) *MemoryStore {
	return &MemoryStore{m: map[string]memoryEntry{}, max: max}
}

// GetMany implements Store.
func (c *MemoryStore) GetMany(_ context.Context, keys []string) (map[string][]byte, int64, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if e, ok := c.m[k]; ok && e.marker == 0 && now.Before(e.expires) {
			out[k] = e.v
		}
	}
	return out, c.seq, nil
}

// Fill implements Store.
func (c *MemoryStore) Fill(_ context.Context, version int64, entries []Entry) (map[string]bool, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m)+len(entries) > c.max {
		c.evict(now)
	}
	stored := make(map[string]bool, len(entries))
	for _, e := range entries {
		if old, ok := c.m[e.Key]; ok && now.Before(old.expires) && (old.marker == 0 || old.marker > version) {
			continue
		}
		c.m[e.Key] = memoryEntry{v: e.Value, expires: now.Add(e.TTL)}
		stored[e.Key] = true
	}
	return stored, nil
}

// evict bounds memory by dropping every value; entries refill from the database. Live markers
// stay, so eviction cannot let a stale fill in.
func (c *MemoryStore) evict(now time.Time) {
	for k, e := range c.m {
		if e.marker == 0 || !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
}

// Invalidate implements Store.
func (c *MemoryStore) Invalidate(_ context.Context, keys ...string) error {
	exp := time.Now().Add(markerTTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	for _, k := range keys {
		c.m[k] = memoryEntry{marker: c.seq, expires: exp}
	}
	return nil
}
