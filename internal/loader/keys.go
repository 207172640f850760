package loader

import (
	"context"
	"strconv"
	"time"

	"github.com/agora/agora/internal/cache"
)

// countTTL bounds how long a count can stay stale if an invalidation is lost (a write racing a
// concurrent fill); writes delete the counts they change right after commit.
const countTTL = 5 * time.Minute

// countPrefix names the cached counts; the version changes whenever what a count means changes,
// so entries of the old meaning are never read.
const countPrefix = "agora:v1:count:"

// Keys of the cached counts, for loaders to fill and writers to invalidate.
func LikeCountKey(postID int) string { return countPrefix + "likes:post:" + strconv.Itoa(postID) }
func FollowerCountKey(userID int) string {
	return countPrefix + "followers:user:" + strconv.Itoa(userID)
}
func FollowingCountKey(userID int) string {
	return countPrefix + "following:user:" + strconv.Itoa(userID)
}
func TagPostCountKey(tagID int) string { return countPrefix + "posts:tag:" + strconv.Itoa(tagID) }

// cached puts the counts cache in front of a count query: one GetMany per batch, one query for the
// misses, written back with countTTL. A cache error falls back to the database.
func cached(c cache.Ints, key func(int) string, query func(context.Context, []int) (map[int]int, error)) func(context.Context, []int) (map[int]int, error) {
	return func(ctx context.Context, ids []int) (map[int]int, error) {
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = key(id)
		}
		hits, err := c.GetMany(ctx, keys)
		if err != nil {
			hits = nil
		}
		out := make(map[int]int, len(ids))
		var misses []int
		for i, id := range ids {
			if n, ok := hits[keys[i]]; ok {
				out[id] = n
			} else {
				misses = append(misses, id)
			}
		}
		if len(misses) == 0 {
			return out, nil
		}
		found, err := query(ctx, misses)
		if err != nil {
			return nil, err
		}
		fill := make(map[string]int, len(misses))
		for _, id := range misses {
			out[id] = found[id] // absent: zero
			fill[key(id)] = found[id]
		}
		_ = c.SetMany(ctx, fill, countTTL)
		return out, nil
	}
}
