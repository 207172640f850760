package loader

import (
	"context"
	"maps"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/internal/selection"
)

// Prefetch is an ent interceptor that makes batching independent of scheduling: when a query made
// for a GraphQL request returns posts, users or tags (a page, an eager-loaded edge, node lookups),
// their IDs go to the loaders of the fields the operation selects, at once. Each kind is then
// fetched in one batch, and the field resolvers find their values cached, however late they run.
//
// A query field collection read for a selection with no field a resolver computes (no count, no
// viewer flag) loads nothing for its nodes: see computes. Nodes its statement joined (a post's
// author) are queued when their own selection computes (joinedComputer).
//
// A page of posts that selects the count of their comments' connection (comments { totalCount })
// has it counted by field collection while the page loads; when the operation also selects
// commentCount, which counts the same comments (those the viewer may see), that count primes
// CommentCountByPost instead of a second query.
func Prefetch() ent.Interceptor {
	return ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			l := For(ctx)
			own := computes(q)
			joined, _ := q.(joinedComputer)
			// Inside a transaction a write is reading what it is about to change: the request's
			// loaders must not remember that.
			if l == nil || ent.TxFromContext(ctx) != nil || !own && joined == nil {
				return next.Query(ctx, q)
			}
			var counted *commentCounts
			if _, ok := q.(*ent.PostQuery); ok && own && l.selects(ctx, "commentCount") {
				counted = &commentCounts{}
				ctx = ent.WithTotals(ctx, counted.add)
			}
			v, err := next.Query(ctx, q)
			if err != nil {
				return v, err
			}
			if posts, ok := v.([]*ent.Post); ok && ctx.Value(followedKey{}) == q {
				l.primeFollowed(ctx, posts)
			}
			if own {
				l.prime(ctx, v, counted)
			}
			if joined != nil {
				for _, nodes := range joined.JoinedComputed(v) {
					l.prime(ctx, nodes, nil)
				}
			}
			return v, err
		})
	})
}

type followedKey struct{}

// FollowedAuthors returns a context in which posts q returns are known to be by authors the viewer
// follows (the feed's): their authors' viewerIsFollowing is true without a query. Only q's own
// posts: a query of posts below it may return anyone's.
func FollowedAuthors(ctx context.Context, q *ent.PostQuery) context.Context {
	return context.WithValue(ctx, followedKey{}, ent.Query(q))
}

// primeFollowed gives ViewerFollowsByUser the authors of posts FollowedAuthors vouches for, before
// prime queues them.
func (l *Loaders) primeFollowed(ctx context.Context, posts []*ent.Post) {
	if !l.viewer.Authenticated() || !l.selects(ctx, "viewerIsFollowing") {
		return
	}
	follows := l.ViewerFollowsByUser()
	for _, p := range posts {
		follows.Prime(p.AuthorID, true)
	}
}

// joinedComputer is a query whose statement may join a unique edge's nodes (a post's or a
// comment's author): it returns those that were read for a selection with fields resolvers
// compute (ent/template/collection.tmpl).
type joinedComputer interface {
	JoinedComputed(ent.Value) []ent.Value
}

// prime queues the nodes a query returned on the loaders of the fields the operation selects.
func (l *Loaders) prime(ctx context.Context, v ent.Value, counted *commentCounts) {
	switch nodes := v.(type) {
	case []*ent.Post:
		l.primePosts(ctx, nodes, counted)
	case []*ent.Tag:
		l.primeTags(ctx, nodes)
	case []*ent.User:
		l.primeUsers(ctx, nodes)
	}
}

// computes reports whether the fields selected of q's nodes may need loaders. Field collection
// marks a query whose selection holds fields resolvers compute (ent's schema.Computed) and reads
// only some columns for one that holds none: the feed's comment authors, say, queue no follower
// counts while its post authors do. A query of all columns may need any; one of some columns
// without the mark (a plain selection's, UserByID's) needs none.
func computes(q ent.Query) bool {
	if c, ok := q.(interface{ Computes() bool }); ok && c.Computes() {
		return true
	}
	s, ok := q.(interface{ SelectedFields() []string })
	return !ok || len(s.SelectedFields()) == 0
}

// commentCounts are the comment counts field collection read for the posts of one query, for
// the totalCount of Post.comments (ent.WithTotals).
type commentCounts struct {
	mu     sync.Mutex
	byPost map[int]int // nil until they were counted
}

func (c *commentCounts) add(typ, edge string, byID map[int]int) {
	if typ != "Post" || edge != "comments" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byPost == nil {
		c.byPost = byID
		return
	}
	maps.Copy(c.byPost, byID)
}

// primePosts queues loaded posts on the loaders of the fields the operation selects. counted,
// when not nil, holds what field collection counted of their comments while they loaded.
func (l *Loaders) primePosts(ctx context.Context, posts []*ent.Post, counted *commentCounts) {
	ids := idsOf(posts, func(p *ent.Post) int { return p.ID })
	prefetch(l, ctx, ids, "likeCount", l.LikeCountByPost)
	if !l.primeCommentCounts(ids, counted) {
		prefetch(l, ctx, ids, "commentCount", l.CommentCountByPost)
	}
	prefetch(l, ctx, ids, "viewerHasLiked", l.ViewerLikesByPost)
	// A members-only body: whether the viewer is a member of its author (ViewerReadsBody).
	if v := l.viewer; v.Authenticated() && !v.Moderator() && (l.selects(ctx, "body") || l.selects(ctx, "viewerCanRead")) {
		var authors []int
		for _, p := range posts {
			if p.Visibility == post.VisibilityMEMBERS && p.AuthorID != v.UserID {
				authors = append(authors, p.AuthorID)
			}
		}
		if len(authors) > 0 {
			l.ViewerMemberOfUser().LoadAllThunk(ctx, authors)
		}
	}
}

// primeCommentCounts gives CommentCountByPost the counts field collection read for ids, and
// reports whether there were any: it counted every post of the query, through the same privacy
// rule of comments as CommentCountByPost, for the same viewer (a query as another viewer runs
// without the request's loaders).
func (l *Loaders) primeCommentCounts(ids []int, counted *commentCounts) bool {
	if counted == nil || len(ids) == 0 {
		return false
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	if counted.byPost == nil {
		return false
	}
	loader := l.CommentCountByPost()
	for _, id := range ids {
		loader.Prime(id, counted.byPost[id])
	}
	return true
}

// primeCachedPosts is primePosts for posts from the second level, whose edges field collection
// did not load: their authors and tags are queued too, and the authors' counts and flags, since
// UserByID's users do not pass Prefetch either (the tags' are queued by TagsByPost).
func (l *Loaders) primeCachedPosts(ctx context.Context, posts []*ent.Post) {
	l.primePosts(ctx, posts, nil)
	authors := idsOf(posts, func(p *ent.Post) int { return p.AuthorID })
	prefetch(l, ctx, authors, "author", l.UserByID)
	if len(authors) > 0 && l.selects(ctx, "author") {
		l.primeUserIDs(ctx, authors)
	}
	prefetch(l, ctx, idsOf(posts, func(p *ent.Post) int { return p.ID }), "tags", l.TagsByPost)
}

func (l *Loaders) primeTags(ctx context.Context, tags []*ent.Tag) {
	prefetch(l, ctx, idsOf(tags, func(t *ent.Tag) int { return t.ID }), "postCount", l.PostCountByTag)
}

func (l *Loaders) primeUsers(ctx context.Context, users []*ent.User) {
	l.primeUserIDs(ctx, idsOf(users, func(u *ent.User) int { return u.ID }))
}

func (l *Loaders) primeUserIDs(ctx context.Context, ids []int) {
	prefetch(l, ctx, ids, "followerCount", l.FollowerCountByUser)
	prefetch(l, ctx, ids, "followingCount", l.FollowingCountByUser)
	prefetch(l, ctx, ids, "viewerIsFollowing", l.ViewerFollowsByUser)
	prefetch(l, ctx, ids, "membershipPlan", l.PlanByAuthor)
}

func idsOf[T any](nodes []T, id func(T) int) []int {
	ids := make([]int, len(nodes))
	for i, n := range nodes {
		ids[i] = id(n)
	}
	return ids
}

// prefetch queues ids on a loader when the operation selects field anywhere.
func prefetch[V any](l *Loaders, ctx context.Context, ids []int, field string, loader func() *dataloadgen.Loader[int, V]) {
	if len(ids) > 0 && l.selects(ctx, field) {
		loader().LoadAllThunk(ctx, ids)
	}
}

// selects reports whether the request's operation selects a field of that name anywhere (the
// names prefetched are unique to their type).
func (l *Loaders) selects(ctx context.Context, field string) bool {
	l.fieldsOnce.Do(func() {
		if graphql.HasOperationContext(ctx) {
			l.fields, _ = selection.Names(graphql.GetOperationContext(ctx).Operation)
		}
	})
	return l.fields[field]
}
