package loader

import (
	"context"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
)

// TTLs of the second level. Writes invalidate what they change right after commit (Watch), so a TTL only
// bounds memory and the staleness left by a lost invalidation.
const (
	countTTL    = 5 * time.Minute
	entityTTL   = 10 * time.Minute
	negativeTTL = 30 * time.Second // IDs nobody may see: new rows invalidate their own ID
)

// Key prefixes. Counts carry a version to bump when what a count means changes; entity keys carry
// a hash of the entity's Go shape, so a deploy that changes a schema never reads old entries.
const countPrefix = "agora:v1:count:"

var (
	userPrefix = entityPrefix[ent.User]("user")
	postPrefix = entityPrefix[ent.Post]("post")
	tagPrefix  = entityPrefix[ent.Tag]("tag")
)

func entityPrefix[T any](name string) string {
	h := fnv.New32a()
	t := reflect.TypeFor[T]()
	for i := range t.NumField() {
		f := t.Field(i)
		fmt.Fprintf(h, "%s %s %s;", f.Name, f.Type, f.Tag)
	}
	return fmt.Sprintf("agora:v1:%s:%08x:", name, h.Sum32())
}

// Keys of the cached entities and counts: the loaders fill them, and Watch invalidates them when a
// write changes what they hold.
func userKey(id int) string           { return idKey(userPrefix, id) }
func postKey(id int) string           { return idKey(postPrefix, id) }
func tagKey(id int) string            { return idKey(tagPrefix, id) }
func likeCountKey(postID int) string  { return idKey(countPrefix+"likes:post:", postID) }
func tagPostCountKey(id int) string   { return idKey(countPrefix+"posts:tag:", id) }
func followerCountKey(id int) string  { return idKey(countPrefix+"followers:user:", id) }
func followingCountKey(id int) string { return idKey(countPrefix+"following:user:", id) }

// idKey is prefix followed by id, in one allocation: a concatenation with strconv.Itoa made two.
func idKey(prefix string, id int) string {
	var b [64]byte
	return string(strconv.AppendInt(append(b[:0], prefix...), int64(id), 10))
}

// Cache is the second level behind every request's loaders: a cache.Store (Redis, shared by
// replicas, or in-process) holding only values that are the same for every viewer, and the misses
// in flight in this process, so concurrent requests missing one key run one query between them.
// Make one per process.
type Cache struct {
	store         cache.Store
	invalidations *database.Collector[string] // the keys a transaction's writes changed (Watch)

	mu       sync.Mutex
	inFlight map[string]*fill

	hits, misses, collapsed atomic.Int64
}

// Stats are counts of keys since start: found in the store, read from the database, and joined to
// another request's read of the same key.
type Stats struct{ Hits, Misses, Collapsed int64 }

// Stats returns the counts so far.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Collapsed: c.collapsed.Load()}
}

// fill is one miss being read from the database; waiters block on done.
type fill struct {
	done   chan struct{}
	val    []byte
	shared bool // val may be used by waiters: it reached the store, so no invalidation overtook it
}

// NewCache returns the second level over store.
func NewCache(store cache.Store) *Cache {
	c := &Cache{store: store, inFlight: map[string]*fill{}}
	c.invalidations = database.NewCollector(c.invalidate)
	return c
}

// load returns the values of keys: from the store, else from read (called with the misses, it
// returns a value for each; an empty value is a negative entry, cached for negativeTTL). A miss
// another request is already reading waits for that read instead of running its own.
func (c *Cache) load(ctx context.Context, keys []string, ttl time.Duration, read func(context.Context, []string) (map[string][]byte, error)) (map[string][]byte, error) {
	got, version, err := c.store.GetMany(ctx, keys)
	if err != nil || got == nil {
		got = make(map[string][]byte, len(keys))
	}
	var misses []string
	for _, k := range keys {
		if _, ok := got[k]; !ok {
			misses = append(misses, k)
		}
	}
	c.hits.Add(int64(len(keys) - len(misses)))
	if len(misses) == 0 {
		return got, nil
	}
	lead, waits := c.claim(misses)
	if len(lead) > 0 {
		vals, err := read(ctx, lead)
		var stored map[string]bool
		if err == nil {
			stored = c.fill(ctx, version, vals, ttl)
		}
		c.release(lead, vals, stored)
		if err != nil {
			return nil, err
		}
		for k, v := range vals {
			got[k] = v
		}
	}
	var retry []string
	for k, f := range waits {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.shared {
			got[k] = f.val
		} else {
			retry = append(retry, k)
		}
	}
	if len(retry) > 0 {
		c.misses.Add(int64(len(retry)))
		vals, err := read(ctx, retry)
		if err != nil {
			return nil, err
		}
		for k, v := range vals {
			got[k] = v
		}
	}
	return got, nil
}

// claim splits misses into the keys this caller reads and the reads in flight it waits for.
func (c *Cache) claim(misses []string) (lead []string, waits map[string]*fill) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range misses {
		if f, ok := c.inFlight[k]; ok {
			c.collapsed.Add(1)
			if waits == nil {
				waits = map[string]*fill{}
			}
			waits[k] = f
			continue
		}
		c.inFlight[k] = &fill{done: make(chan struct{})}
		c.misses.Add(1)
		lead = append(lead, k)
	}
	return lead, waits
}

// release hands the leader's values to its waiters: those the store took, since a value the
// store refused met an invalidation and may predate the write behind it.
func (c *Cache) release(lead []string, vals map[string][]byte, stored map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range lead {
		f := c.inFlight[k]
		delete(c.inFlight, k)
		f.val, f.shared = vals[k], stored[k]
		close(f.done)
	}
}

// fill writes values back, negative entries with a shorter TTL, and reports the keys stored.
func (c *Cache) fill(ctx context.Context, version int64, vals map[string][]byte, ttl time.Duration) map[string]bool {
	entries := make([]cache.Entry, 0, len(vals))
	for k, v := range vals {
		e := cache.Entry{Key: k, Value: v, TTL: ttl}
		if len(v) == 0 {
			e.TTL = negativeTTL
		}
		entries = append(entries, e)
	}
	stored, err := c.store.Fill(ctx, version, entries)
	if err != nil { // the store is down: no invalidation can be missed through it either
		stored = make(map[string]bool, len(vals))
		for k := range vals {
			stored[k] = true
		}
	}
	return stored
}

// counts puts the second level in front of a count query; keys with no rows count 0.
func counts(c *Cache, key func(int) string, query func(context.Context, []int) (map[int]int, error)) func(context.Context, []int) (map[int]int, error) {
	return func(ctx context.Context, ids []int) (map[int]int, error) {
		keys, byKey := keysOf(ids, key)
		vals, err := c.load(ctx, keys, countTTL, func(ctx context.Context, misses []string) (map[string][]byte, error) {
			found, err := query(ctx, keyIDs(misses, byKey))
			if err != nil {
				return nil, err
			}
			out := make(map[string][]byte, len(misses))
			for _, k := range misses {
				out[k] = strconv.AppendInt(nil, int64(found[byKey[k]]), 10)
			}
			return out, nil
		})
		if err != nil {
			return nil, err
		}
		out := make(map[int]int, len(ids))
		for i, id := range ids {
			if n, err := strconv.Atoi(string(vals[keys[i]])); err == nil {
				out[id] = n
			}
		}
		return out, nil
	}
}

// keysOf returns the cache keys of ids and the way back from key to ID.
func keysOf(ids []int, key func(int) string) ([]string, map[string]int) {
	keys := make([]string, len(ids))
	byKey := make(map[string]int, len(ids))
	for i, id := range ids {
		keys[i] = key(id)
		byKey[keys[i]] = id
	}
	return keys, byKey
}

func keyIDs(keys []string, byKey map[string]int) []int {
	ids := make([]int, len(keys))
	for i, k := range keys {
		ids[i] = byKey[k]
	}
	return ids
}
