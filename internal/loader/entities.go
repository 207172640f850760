package loader

import (
	"context"
	"encoding/json"

	"github.com/agora/agora/internal/auth"
)

// entities is the batch function of an entity-by-ID loader through the second level. The second
// level holds what an anonymous viewer sees: the privacy rules decide, as on every query, by
// reading misses as an anonymous viewer. IDs with no such row are cached as negative entries; for
// a signed-in viewer they are read again as that viewer (their own drafts, a moderator's view of
// hidden posts) and never cached. Keys nobody may see come back nil.
func entities[T any](c *Cache, viewer auth.Viewer, key func(int) string, query func(context.Context, []int) ([]*T, error), id func(*T) int, attach func(*T) *T) func(context.Context, []int) ([]*T, []error) {
	return func(ctx context.Context, ids []int) ([]*T, []error) {
		keys, byKey := keysOf(ids, key)
		vals, err := c.load(ctx, keys, entityTTL, func(ctx context.Context, misses []string) (map[string][]byte, error) {
			rows, err := query(Anonymous(ctx), keyIDs(misses, byKey))
			if err != nil {
				return nil, err
			}
			out := make(map[string][]byte, len(misses))
			for _, k := range misses {
				out[k] = nil // negative unless found
			}
			for _, r := range rows {
				b, err := json.Marshal(r)
				if err != nil {
					return nil, err
				}
				out[key(id(r))] = b
			}
			return out, nil
		})
		if err != nil {
			return nil, []error{err}
		}
		out := make([]*T, len(ids))
		var private []int
		for i, k := range keys {
			if len(vals[k]) == 0 {
				if viewer.Authenticated() {
					private = append(private, ids[i])
				}
				continue
			}
			var e T
			if err := json.Unmarshal(vals[k], &e); err != nil {
				return nil, []error{err}
			}
			out[i] = attach(&e)
		}
		if len(private) == 0 {
			return out, nil
		}
		rows, err := query(ctx, private)
		if err != nil {
			return nil, []error{err}
		}
		found := make(map[int]*T, len(rows))
		for _, r := range rows {
			found[id(r)] = r
		}
		for i, id := range ids {
			if out[i] == nil {
				out[i] = found[id]
			}
		}
		return out, nil
	}
}

// Anonymous is ctx as a signed-out reader sees the data — what may be shared with everyone — and
// without the request's loaders, which would otherwise be primed for the wrong viewer.
func Anonymous(ctx context.Context) context.Context {
	return With(auth.WithViewer(ctx, auth.Viewer{}), nil)
}
