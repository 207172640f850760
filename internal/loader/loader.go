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
	"github.com/agora/agora/ent/membership"
	"github.com/agora/agora/ent/membershipplan"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/authz"
)

// Loaders are one request's loaders. Keys are entity IDs; values come back in key order. Each
// loader is made when the request first uses it: most operations use few of them.
type Loaders struct {
	client  *ent.Client
	cache   *Cache
	viewer  auth.Viewer
	observe BatchObserver

	userByID             lazy[int, *ent.User]
	postByID             lazy[int, *ent.Post]
	tagByID              lazy[int, *ent.Tag]
	commentByID          lazy[int, *ent.Comment]
	tagsByPost           lazy[int, []*ent.Tag]
	likeCountByPost      lazy[int, int]
	commentCountByPost   lazy[int, int]
	followerCountByUser  lazy[int, int]
	followingCountByUser lazy[int, int]
	postCountByTag       lazy[int, int]
	viewerLikesByPost    lazy[int, bool]
	viewerFollowsByUser  lazy[int, bool]
	viewerMemberOfUser   lazy[int, bool]
	planByAuthor         lazy[int, *ent.MembershipPlan]

	fieldsOnce sync.Once
	fields     map[string]bool // field names the operation selects (see selects)
}

// lazy is a loader made on first use.
type lazy[K comparable, V any] struct {
	once sync.Once
	l    *dataloadgen.Loader[K, V]
}

func (z *lazy[K, V]) get(build func() *dataloadgen.Loader[K, V]) *dataloadgen.Loader[K, V] {
	z.once.Do(func() { z.l = build() })
	return z.l
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

// publicUserFields are the user columns the second level holds: none of the user's own (email
// and its confirmation, password hash, message policy, mail settings).
var publicUserFields = slices.DeleteFunc(slices.Clone(user.Columns), func(c string) bool {
	switch c {
	case user.FieldEmail, user.FieldEmailVerifiedAt, user.FieldPasswordHash, user.FieldMessagePolicy, user.FieldDigestThrough,
		user.FieldMailNewFollower, user.FieldMailNewComment, user.FieldMailPostLiked, user.FieldMailNewMessage:
		return true
	}
	return false
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
	return &Loaders{client: client, cache: c, viewer: viewer, observe: observe}
}

func (l *Loaders) opt() dataloadgen.Option { return dataloadgen.WithWait(wait) }

// countAs is the aggregate of the grouped counts.
var countAs = ent.As(ent.Count(), "n")

// UserByID loads users by ID, nil for IDs the viewer may not see.
func (l *Loaders) UserByID() *dataloadgen.Loader[int, *ent.User] {
	return l.userByID.get(func() *dataloadgen.Loader[int, *ent.User] {
		return newLoader(l.observe, "UserByID", entities(l.cache, l.viewer, userKey, func(ctx context.Context, ids []int) ([]*ent.User, error) {
			return l.client.User.Query().Where(user.IDIn(ids...)).Select(publicUserFields...).All(ctx)
		}, func(u *ent.User) int { return u.ID }, l.client.User.Attach), l.opt())
	})
}

// PostByID loads posts by ID.
func (l *Loaders) PostByID() *dataloadgen.Loader[int, *ent.Post] {
	return l.postByID.get(func() *dataloadgen.Loader[int, *ent.Post] {
		return newLoader(l.observe, "PostByID", entities(l.cache, l.viewer, postKey, func(ctx context.Context, ids []int) ([]*ent.Post, error) {
			return l.client.Post.Query().Where(post.IDIn(ids...)).All(ctx)
		}, func(p *ent.Post) int { return p.ID }, l.client.Post.Attach), l.opt())
	})
}

// TagByID loads tags by ID.
func (l *Loaders) TagByID() *dataloadgen.Loader[int, *ent.Tag] {
	return l.tagByID.get(func() *dataloadgen.Loader[int, *ent.Tag] {
		return newLoader(l.observe, "TagByID", entities(l.cache, l.viewer, tagKey, func(ctx context.Context, ids []int) ([]*ent.Tag, error) {
			return l.client.Tag.Query().Where(tag.IDIn(ids...)).All(ctx)
		}, func(t *ent.Tag) int { return t.ID }, l.client.Tag.Attach), l.opt())
	})
}

// CommentByID loads comments by ID, per request only (see New).
func (l *Loaders) CommentByID() *dataloadgen.Loader[int, *ent.Comment] {
	return l.commentByID.get(func() *dataloadgen.Loader[int, *ent.Comment] {
		return newLoader(l.observe, "CommentByID", func(ctx context.Context, ids []int) ([]*ent.Comment, []error) {
			rows, err := l.client.Comment.Query().Where(comment.IDIn(ids...)).All(ctx)
			return inKeyOrder(ids, rows, func(c *ent.Comment) int { return c.ID }, err)
		}, l.opt())
	})
}

// TagsByPost loads a post's tags.
func (l *Loaders) TagsByPost() *dataloadgen.Loader[int, []*ent.Tag] {
	return l.tagsByPost.get(func() *dataloadgen.Loader[int, []*ent.Tag] {
		return newLoader(l.observe, "TagsByPost", func(ctx context.Context, ids []int) ([][]*ent.Tag, []error) {
			// Without loaders: the posts are primed already.
			posts, err := l.client.Post.Query().Where(post.IDIn(ids...)).WithTags().All(With(ctx, nil))
			if err != nil {
				return nil, []error{err}
			}
			tags := make(map[int][]*ent.Tag, len(posts))
			var all []*ent.Tag
			for _, p := range posts {
				tags[p.ID] = p.Edges.Tags
				all = append(all, p.Edges.Tags...)
			}
			// Read without the loaders, so Prefetch did not see them: queue their fields here.
			l.primeTags(ctx, all)
			out := make([][]*ent.Tag, len(ids))
			for i, id := range ids {
				out[i] = tags[id]
			}
			return out, nil
		}, l.opt())
	})
}

// LikeCountByPost loads a post's likes.
func (l *Loaders) LikeCountByPost() *dataloadgen.Loader[int, int] {
	return l.likeCountByPost.get(func() *dataloadgen.Loader[int, int] {
		return newLoader(l.observe, "LikeCountByPost", batch(counts(l.cache, likeCountKey, func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perPost
			err := l.client.Like.Query().Where(like.PostIDIn(ids...)).GroupBy(like.FieldPostID).Aggregate(countAs).Scan(ctx, &rows)
			return toMap(rows, func(r perPost) (int, int) { return r.PostID, r.N }), err
		})), l.opt())
	})
}

// CommentCountByPost loads a post's comments the viewer may see.
// Through the Comment privacy rule: hidden comments count only for those who may see them.
func (l *Loaders) CommentCountByPost() *dataloadgen.Loader[int, int] {
	return l.commentCountByPost.get(func() *dataloadgen.Loader[int, int] {
		return newLoader(l.observe, "CommentCountByPost", batch(func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perPost
			err := l.client.Comment.Query().Where(comment.PostIDIn(ids...)).GroupBy(comment.FieldPostID).Aggregate(countAs).Scan(ctx, &rows)
			return toMap(rows, func(r perPost) (int, int) { return r.PostID, r.N }), err
		}), l.opt())
	})
}

// FollowerCountByUser loads a user's followers.
func (l *Loaders) FollowerCountByUser() *dataloadgen.Loader[int, int] {
	return l.followerCountByUser.get(func() *dataloadgen.Loader[int, int] {
		return newLoader(l.observe, "FollowerCountByUser", batch(counts(l.cache, followerCountKey, func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perUser
			err := l.client.Follow.Query().Where(follow.UserIDIn(ids...)).GroupBy(follow.FieldUserID).Aggregate(countAs).Scan(ctx, &rows)
			return toMap(rows, func(r perUser) (int, int) { return r.UserID, r.N }), err
		})), l.opt())
	})
}

// FollowingCountByUser loads the users a user follows.
func (l *Loaders) FollowingCountByUser() *dataloadgen.Loader[int, int] {
	return l.followingCountByUser.get(func() *dataloadgen.Loader[int, int] {
		return newLoader(l.observe, "FollowingCountByUser", batch(counts(l.cache, followingCountKey, func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perFollowing
			err := l.client.Follow.Query().Where(follow.FollowingIDIn(ids...)).GroupBy(follow.FieldFollowingID).Aggregate(countAs).Scan(ctx, &rows)
			return toMap(rows, func(r perFollowing) (int, int) { return r.FollowingID, r.N }), err
		})), l.opt())
	})
}

// PostCountByTag loads a tag's posts everyone may see.
// Counted as a signed-out reader sees the posts — authz's rule of the posts everyone may see
// (published, unhidden) — since the count is the same for every viewer.
func (l *Loaders) PostCountByTag() *dataloadgen.Loader[int, int] {
	return l.postCountByTag.get(func() *dataloadgen.Loader[int, int] {
		return newLoader(l.observe, "PostCountByTag", batch(counts(l.cache, tagPostCountKey, func(ctx context.Context, ids []int) (map[int]int, error) {
			var rows []perTag
			err := l.client.Post.Query().Modify(func(s *sql.Selector) {
				pt := sql.Table(post.TagsTable)
				s.Join(pt).On(s.C(post.FieldID), pt.C(post.TagsPrimaryKey[0])) // joined tables get an alias: name columns after
				tagID := pt.C(post.TagsPrimaryKey[1])
				s.Where(sql.InInts(tagID, ids...)).
					GroupBy(tagID).
					Select(sql.As(tagID, "tag_id"), sql.As(sql.Count("*"), "n"))
			}).Scan(Anonymous(ctx), &rows)
			return toMap(rows, func(r perTag) (int, int) { return r.TagID, r.N }), err
		})), l.opt())
	})
}

// ViewerLikesByPost loads whether the viewer likes a post, false for anonymous viewers without a query.
func (l *Loaders) ViewerLikesByPost() *dataloadgen.Loader[int, bool] {
	return l.viewerLikesByPost.get(func() *dataloadgen.Loader[int, bool] {
		return newLoader(l.observe, "ViewerLikesByPost", flags(l.viewer, func(ctx context.Context, ids []int) ([]int, error) {
			return l.client.Like.Query().Where(like.UserID(l.viewer.UserID), like.PostIDIn(ids...)).Select(like.FieldPostID).Ints(ctx)
		}), l.opt())
	})
}

// ViewerFollowsByUser loads whether the viewer follows a user.
func (l *Loaders) ViewerFollowsByUser() *dataloadgen.Loader[int, bool] {
	return l.viewerFollowsByUser.get(func() *dataloadgen.Loader[int, bool] {
		return newLoader(l.observe, "ViewerFollowsByUser", flags(l.viewer, func(ctx context.Context, ids []int) ([]int, error) {
			return l.client.Follow.Query().Where(follow.FollowingID(l.viewer.UserID), follow.UserIDIn(ids...)).Select(follow.FieldUserID).Ints(ctx)
		}), l.opt())
	})
}

// ViewerMemberOfUser loads whether the viewer is a current member of an author (authz.CurrentMembership),
// per request only: memberships change with payments, not with the author's content.
func (l *Loaders) ViewerMemberOfUser() *dataloadgen.Loader[int, bool] {
	return l.viewerMemberOfUser.get(func() *dataloadgen.Loader[int, bool] {
		return newLoader(l.observe, "ViewerMemberOfUser", flags(l.viewer, func(ctx context.Context, ids []int) ([]int, error) {
			// Memberships are the system's rows: only this flag about the viewer's own is read.
			return l.client.Membership.Query().
				Where(membership.MemberID(l.viewer.UserID), membership.AuthorIDIn(ids...), authz.CurrentMembership(time.Now())).
				Select(membership.FieldAuthorID).Ints(privacy.DecisionContext(ctx, privacy.Allow))
		}), l.opt())
	})
}

// PlanByAuthor loads the membership plan each author offers, nil for none, per request only.
func (l *Loaders) PlanByAuthor() *dataloadgen.Loader[int, *ent.MembershipPlan] {
	return l.planByAuthor.get(func() *dataloadgen.Loader[int, *ent.MembershipPlan] {
		return newLoader(l.observe, "PlanByAuthor", func(ctx context.Context, ids []int) ([]*ent.MembershipPlan, []error) {
			rows, err := l.client.MembershipPlan.Query().Where(membershipplan.AuthorIDIn(ids...)).All(ctx)
			return inKeyOrder(ids, rows, func(p *ent.MembershipPlan) int { return p.AuthorID }, err)
		}, l.opt())
	})
}

// ViewerReadsBody reports whether the viewer of ctx reads p's body: PUBLIC posts everyone who
// sees them; MEMBERS posts their author, moderators and admins, and the author's current members.
func ViewerReadsBody(ctx context.Context, p *ent.Post) (bool, error) {
	if p.Visibility != post.VisibilityMEMBERS {
		return true, nil
	}
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return false, nil
	}
	if v.UserID == p.AuthorID || v.Moderator() {
		return true, nil
	}
	l := For(ctx)
	if l == nil { // outside a request (a job): no viewer's membership to read
		return false, nil
	}
	if l.viewer.UserID != v.UserID {
		// A socket's loaders were made before its connection_init signed the viewer in.
		return l.client.Membership.Query().
			Where(membership.MemberID(v.UserID), membership.AuthorID(p.AuthorID), authz.CurrentMembership(time.Now())).
			Exist(privacy.DecisionContext(ctx, privacy.Allow))
	}
	return l.ViewerMemberOfUser().Load(ctx, p.AuthorID)
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
		return With(ctx, New(l.client, l.cache, l.viewer, l.observe))
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
