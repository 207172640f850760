package loader

import (
	"context"
	"errors"
	"strings"

	"github.com/99designs/gqlgen/graphql"

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
	// Queue every kind first, then wait, so the kinds load concurrently. Kinds whose connections
	// the operation selects load with them instead (see collected).
	users := loadNodes(ctx, l.UserByID(), pick(user.Table), "User", func(ids []int) (*ent.UserQuery, func(*ent.User) int) {
		return client.User.Query().Where(user.IDIn(ids...)), func(u *ent.User) int { return u.ID }
	})
	posts := loadNodes(ctx, l.PostByID(), pick(post.Table), "Post", func(ids []int) (*ent.PostQuery, func(*ent.Post) int) {
		return client.Post.Query().Where(post.IDIn(ids...)), func(p *ent.Post) int { return p.ID }
	})
	tags := loadNodes(ctx, l.TagByID(), pick(tag.Table), "Tag", func(ids []int) (*ent.TagQuery, func(*ent.Tag) int) {
		return client.Tag.Query().Where(tag.IDIn(ids...)), func(t *ent.Tag) int { return t.ID }
	})
	comments := l.CommentByID().LoadAllThunk(ctx, pick(comment.Table))
	if err := place(out, byType[user.Table], users, l.primeUsers, ctx); err != nil {
		return nil, err
	}
	primePosts := l.primeCachedPosts
	if selectsConnection(ctx, "Post") { // field collection loaded their edges
		primePosts = func(ctx context.Context, posts []*ent.Post) { l.primePosts(ctx, posts, nil) }
	}
	if err := place(out, byType[post.Table], posts, primePosts, ctx); err != nil {
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

// collectable is an ent query field collection can eager-load edges for.
type collectable[T any, Q any] interface {
	CollectFields(ctx context.Context, satisfies ...string) (Q, error)
	CollectFieldsOne(ctx context.Context, satisfies ...string) (Q, error)
	All(ctx context.Context) ([]*T, error)
}

// loadNodes queues ids of one type on its loader — unless the operation selects a connection on
// that type below the current field (comments of posts, say): then field collection loads the
// entities with those connections, one query per edge for all of them instead of one per entity,
// as the viewer sees them, past the cache.
func loadNodes[T any, Q collectable[T, Q]](ctx context.Context, l *dataloadgen.Loader[int, *T], ids []int, typ string, query func([]int) (Q, func(*T) int)) func() ([]*T, error) {
	if len(ids) == 0 || !selectsConnection(ctx, typ) {
		return l.LoadAllThunk(ctx, ids)
	}
	return func() ([]*T, error) {
		q, id := query(ids)
		collect := q.CollectFields
		if len(ids) == 1 { // its connections are read with a LIMIT, not a window over all their items
			collect = q.CollectFieldsOne
		}
		q, err := collect(ctx, typ)
		if err != nil {
			return nil, err
		}
		rows, err := q.All(ctx)
		out, errs := inKeyOrder(ids, rows, id, err)
		if errs != nil {
			return nil, errs[0]
		}
		return out, nil
	}
}

// selectsConnection reports whether the current field selects, on typ, a field of a connection type.
func selectsConnection(ctx context.Context, typ string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return false
	}
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), fc.Field.Selections, []string{typ}) {
		if f.Definition != nil && strings.HasSuffix(f.Definition.Type.Name(), "Connection") {
			return true
		}
	}
	return false
}
