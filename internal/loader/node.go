package loader

import (
	"context"
	"errors"

	"github.com/vikstrous/dataloadgen"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/comment"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/ent/user"
)

// Nodes returns the nodes with the given global IDs in order: users, posts and tags through the
// second level, comments through their loader, other types from the database. An entry is nil
// where the viewer may see no such node (or the ID is not one of ours); err is for failures.
func Nodes(ctx context.Context, client *ent.Client, ids []int) ([]ent.Noder, error) {
	l := For(ctx)
	out := make([]ent.Noder, len(ids))
	byType := map[string][]int{} // type → indexes into ids
	for i, id := range ids {
		if t, ok := ent.NodeType(id); ok {
			byType[t] = append(byType[t], i)
		}
	}
	pick := func(t string) []int {
		keys := make([]int, len(byType[t]))
		for j, i := range byType[t] {
			keys[j] = ids[i]
		}
		return keys
	}
	// Queue every kind first, then wait, so the kinds load concurrently.
	users := l.UserByID.LoadAllThunk(ctx, pick(user.Table))
	posts := l.PostByID.LoadAllThunk(ctx, pick(post.Table))
	tags := l.TagByID.LoadAllThunk(ctx, pick(tag.Table))
	comments := l.CommentByID.LoadAllThunk(ctx, pick(comment.Table))
	if err := place(out, byType[user.Table], users, l.primeUsers, ctx); err != nil {
		return nil, err
	}
	if err := place(out, byType[post.Table], posts, l.primeCachedPosts, ctx); err != nil {
		return nil, err
	}
	if err := place(out, byType[tag.Table], tags, l.primeTags, ctx); err != nil {
		return nil, err
	}
	if err := place(out, byType[comment.Table], comments, nil, ctx); err != nil {
		return nil, err
	}
	for t, idx := range byType {
		switch t {
		case user.Table, post.Table, tag.Table, comment.Table:
			continue
		}
		for _, i := range idx {
			n, err := client.Noder(ctx, ids[i], ent.WithFixedNodeType(t))
			if err != nil && !ent.IsNotFound(err) {
				return nil, err
			}
			if err == nil {
				out[i] = n
			}
		}
	}
	return out, nil
}

// place puts the loaded nodes of one type at their indexes and primes the loaders of their
// fields, since they came from the cache and not through the Prefetch interceptor.
func place[E any](out []ent.Noder, idx []int, thunk func() ([]*E, error), prime func(context.Context, []*E), ctx context.Context) error {
	if len(idx) == 0 {
		return nil
	}
	nodes, err := thunk()
	if err != nil {
		return firstError(err)
	}
	var found []*E
	for j, n := range nodes {
		if n != nil {
			out[idx[j]] = any(n).(ent.Noder)
			found = append(found, n)
		}
	}
	if prime != nil {
		prime(ctx, found)
	}
	return nil
}

// firstError unwraps the per-key errors of a LoadAll, which are one batch error repeated.
func firstError(err error) error {
	var each dataloadgen.ErrorSlice
	if errors.As(err, &each) {
		for _, e := range each {
			if e != nil {
				return e
			}
		}
	}
	return err
}
