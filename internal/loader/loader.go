// Package loader batches the lookups that field collection does not cover — entities by ID, counts
// and viewer-relative flags — into one query per kind per request, behind a second level shared by
// replicas (Cache). Loaders live for one request: make them per request (Middleware), never share
// them between requests.
package loader

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/vikstrous/dataloadgen"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/comment"
	"github.com/agora/agora/ent/follow"
	"github.com/agora/agora/ent/like"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/auth"
)

// Loaders are one request's loaders. Keys are entity IDs; values come back in key order.
type Loaders struct {
	UserByID    *dataloadgen.Loader[int, *ent.User] // nil for IDs the viewer may not see
	PostByID    *dataloadgen.Loader[int, *ent.Post]
	TagByID     *dataloadgen.Loader[int, *ent.Tag]
	CommentByID *dataloadgen.Loader[int, *ent.Comment] // per request only: see New
	TagsByPost  *dataloadgen.Loader[int, []*ent.Tag]

	LikeCountByPost      *dataloadgen.Loader[int, int]
	CommentCountByPost   *dataloadgen.Loader[int, int]
	FollowerCountByUser  *dataloadgen.Loader[int, int]
	FollowingCountByUser *dataloadgen.Loader[int, int]
	PostCountByTag       *dataloadgen.Loader[int, int]  // posts everyone may see
	ViewerLikesByPost    *dataloadgen.Loader[int, bool] // false for anonymous viewers, without a query
	ViewerFollowsByUser  *dataloadgen.Loader[int, bool]

	fieldsOnce sync.Once
	fields     map[string]bool // field names the operation selects (see selects)

	renew func() *Loaders // fresh loaders for the same request
}

// wait is how long a loader gathers keys before it queries: the resolvers of one list run
// concurrently and call within microseconds of each other.
const wait = time.Millisecond

// Rows of the grouped counts, named by their group column.
type (
	perPost struct {
		PostID int `sql:"post_id"`
		N      int
	}
	perUser struct {
		UserID int `sql:"user_id"`
		N      int
	}
	perFollowing struct {
		FollowingID int `sql:"following_id"`
		N           int
	}
	perTag struct {
		TagID int `sql:"tag_id"`
		N     int
	}
)

// publicUserFields are the user columns the second level holds: no email, no password hash, no
// message policy.
var publicUserFields = slices.DeleteFunc(slices.Clone(user.Columns), func(c string) bool {
	return c == user.FieldEmail || c == user.FieldPasswordHash || c == user.FieldMessagePolicy
})

// BatchObserver learns the number of keys of each batch a loader runs, by loader name
// (UserByID…); nil observes nothing.
type BatchObserver func(loader string, keys int)

// newLoader is a dataloadgen loader whose batches are reported to observe and, when the request is
// traced, run in a span.
func newLoader[K comparable, V any](observe BatchObserver, name string, fetch func(context.Context, []K) ([]V, []error), opts ...dataloadgen.Option) *dataloadgen.Loader[K, V] {
	if observe != nil {
		inner := fetch
		fetch = func(ctx context.Context, keys []K) ([]V, []error) {
			observe(name, len(keys))
			return inner(ctx, keys)
		}
	}
	return dataloadgen.NewLoader(traced(name, fetch), opts...)
}

// New returns fresh loaders for a request made by viewer, reporting their batches to observe.
// Users, posts and tags, and the counts that are the same for every viewer, go through the second
// level c. Comments (whose visibility follows their post's), commentCount (hidden comments count
// for some viewers) and the viewer's flags do not.
func New(client *ent.Client, c *Cache, viewer auth.Viewer, observe BatchObserver) *Loaders {
	opt := dataloadgen.WithWait(wait)
	n := ent.As(ent.Count(), "n")
	return &Loaders{
		renew: func() *Loaders { return New(client, c, viewer, observe) },
		UserByID: newLoader(observe, "UserByID", entities(c, viewer, userKey, func(ctx context.Context, ids []int) ([]*ent.User, error) {
			return client.User.Query().Where(user.IDIn(ids...)).Select(publicUserFields...).All(ctx)
		}, func(u *ent.User) int { return u.ID }, client.User.Attach), opt),
		PostByID: newLoader(observe, "PostByID", entities(c, viewer, postKey, func(ctx context.Context, ids []int) ([]*ent.Post, error) {
			return client.Post.Query().Where(post.IDIn(ids...)).All(ctx)
		}, func(p *ent.Post) int { return p.ID }, client.Post.Attach), opt),
		TagByID: newLoader(observe, "TagByID", entities(c, viewer, tagKey, func(ctx context.Context, ids []int) ([]*ent.Tag, error) {
			return client.Tag.Query().Where(tag.IDIn(ids...)).All(ctx)
		}, func(t *ent.Tag) int { return t.ID }, client.Tag.Attach), opt),
		CommentByID: newLoader(observe, "CommentByID", func(ctx context.Context, ids []int) ([]*ent.Comment, []error) {
			rows, err := client.Comment.Query().Where(comment.IDIn(ids...)).All(ctx)
			return inKeyOrder(ids, rows, func(c *ent.Comment) int { return c.ID }, err)
		}, opt),
		TagsByPost: newLoader(observe, "TagsByPost", func(ctx context.Context, ids []int) ([][]*ent.Tag, []error) {
			// Without loaders: the posts are primed already.
			posts, err := client.Post.Query().Where(post.IDIn(ids...)).WithTags().All(With(ctx, nil))
			if err != nil {
				return nil, []error{err}
			}
			tags := make(map[int][]*ent.Tag, len(posts))
			for _, p := range posts {
				tags[p.ID] = p.Edges.Tags
			}
			out := make([][]*ent.Tag, len(ids))
			for i, id := range ids {
				out[i] = tags[id]
			}
			return out, nil
		}, opt),
		LikeCountByPost: newLoader(observe, "LikeCountByPost", batch(counts(c, likeCountKey, func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perPost
			err := client.Like.Query().Where(like.PostIDIn(ids...)).GroupBy(like.FieldPostID).Aggregate(n).Scan(ctx, &rows)
			return toMap(rows, func(r perPost) (int, int) { return r.PostID, r.N }), err
		})), opt),
		// Through the Comment privacy rule: hidden comments count only for those who may see them.
		CommentCountByPost: newLoader(observe, "CommentCountByPost", batch(func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perPost
			err := client.Comment.Query().Where(comment.PostIDIn(ids...)).GroupBy(comment.FieldPostID).Aggregate(n).Scan(ctx, &rows)
			return toMap(rows, func(r perPost) (int, int) { return r.PostID, r.N }), err
		}), opt),
		FollowerCountByUser: newLoader(observe, "FollowerCountByUser", batch(counts(c, followerCountKey, func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perUser
			err := client.Follow.Query().Where(follow.UserIDIn(ids...)).GroupBy(follow.FieldUserID).Aggregate(n).Scan(ctx, &rows)
			return toMap(rows, func(r perUser) (int, int) { return r.UserID, r.N }), err
		})), opt),
		FollowingCountByUser: newLoader(observe, "FollowingCountByUser", batch(counts(c, followingCountKey, func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perFollowing
			err := client.Follow.Query().Where(follow.FollowingIDIn(ids...)).GroupBy(follow.FieldFollowingID).Aggregate(n).Scan(ctx, &rows)
			return toMap(rows, func(r perFollowing) (int, int) { return r.FollowingID, r.N }), err
		})), opt),
		// Counted as a signed-out reader sees the posts — authz's rule of the posts everyone may see
		// (published, unhidden) — since the count is the same for every viewer.
		PostCountByTag: newLoader(observe, "PostCountByTag", batch(counts(c, tagPostCountKey, func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perTag
			err := client.Post.Query().Modify(func(s *sql.Selector) {
				pt := sql.Table(post.TagsTable)
				s.Join(pt).On(s.C(post.FieldID), pt.C(post.TagsPrimaryKey[0])) // joined tables get an alias: name columns after
				tagID := pt.C(post.TagsPrimaryKey[1])
				s.Where(sql.InInts(tagID, ids...)).
					GroupBy(tagID).
					Select(sql.As(tagID, "tag_id"), sql.As(sql.Count("*"), "n"))
			}).Scan(Anonymous(ctx), &rows)
			return toMap(rows, func(r perTag) (int, int) { return r.TagID, r.N }), err
		})), opt),
		ViewerLikesByPost: newLoader(observe, "ViewerLikesByPost", flags(viewer, func(ctx context.Context, ids []int) ([]int, error) {
			return client.Like.Query().Where(like.UserID(viewer.UserID), like.PostIDIn(ids...)).Select(like.FieldPostID).Ints(ctx)
		}), opt),
		ViewerFollowsByUser: newLoader(observe, "ViewerFollowsByUser", flags(viewer, func(ctx context.Context, ids []int) ([]int, error) {
			return client.Follow.Query().Where(follow.FollowingID(viewer.UserID), follow.UserIDIn(ids...)).Select(follow.FieldUserID).Ints(ctx)
		}), opt),
	}
}

// inKeyOrder puts rows in the order of ids, nil where there is none.
func inKeyOrder[T any](ids []int, rows []*T, id func(*T) int, err error) ([]*T, []error) {
	if err != nil {
		return nil, []error{err}
	}
	byID := make(map[int]*T, len(rows))
	for _, r := range rows {
		byID[id(r)] = r
	}
	out := make([]*T, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// batch adapts a grouped count query to a batch function: keys with no rows count 0.
func batch(query func(context.Context, []int) (map[int]int, error)) func(context.Context, []int) ([]int, []error) {
	return func(ctx context.Context, ids []int) ([]int, []error) {
		m, err := query(ctx, ids)
		if err != nil {
			return nil, []error{err}
		}
		out := make([]int, len(ids))
		for i, id := range ids {
			out[i] = m[id]
		}
		return out, nil
	}
}

// flags adapts a query for the keys where a viewer-relative flag holds to a batch function.
func flags(viewer auth.Viewer, query func(context.Context, []int) ([]int, error)) func(context.Context, []int) ([]bool, []error) {
	return func(ctx context.Context, ids []int) ([]bool, []error) {
		out := make([]bool, len(ids))
		if !viewer.Authenticated() {
			return out, nil
		}
		set, err := query(ctx, ids)
		if err != nil {
			return nil, []error{err}
		}
		yes := make(map[int]bool, len(set))
		for _, id := range set {
			yes[id] = true
		}
		for i, id := range ids {
			out[i] = yes[id]
		}
		return out, nil
	}
}

func toMap[R any](rows []R, kv func(R) (int, int)) map[int]int {
	m := make(map[int]int, len(rows))
	for _, r := range rows {
		k, v := kv(r)
		m[k] = v
	}
	return m
}

type ctxKey struct{}

// With returns a context carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// For returns the request's loaders.
func For(ctx context.Context) *Loaders {
	l, _ := ctx.Value(ctxKey{}).(*Loaders)
	return l
}

// Renew gives the rest of a request fresh loaders: after a mutation, values loaded before it may
// be stale.
func Renew(ctx context.Context) context.Context {
	if l := For(ctx); l != nil {
		return With(ctx, l.renew())
	}
	return ctx
}

// Middleware gives every request fresh loaders for its viewer (so it runs after auth.Middleware).
func Middleware(client *ent.Client, c *Cache, observe BatchObserver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		next.ServeHTTP(w, r.WithContext(With(ctx, New(client, c, auth.FromContext(ctx), observe))))
	})
}
