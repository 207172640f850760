// Package authz holds the row-level rules that ent privacy policies apply to every query and
// mutation, whatever path reached the data (a root field, node(id), a nested edge, a direct ent
// call). Writes are denied unless a rule allows them.
package authz

import (
	"context"
	"slices"

	"entgo.io/ent/dialect/sql"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/comment"
	"github.com/agora/agora/ent/follow"
	"github.com/agora/agora/ent/like"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/auth"
)

// visiblePosts is the filter for posts the viewer may see: published, unhidden ones, their own
// posts, and for moderators hidden ones too. Drafts are their author's alone.
func visiblePosts(ctx context.Context) predicate.Post {
	v := auth.FromContext(ctx)
	public := post.And(post.StatusEQ(post.StatusPUBLISHED), post.HiddenAtIsNil())
	switch {
	case !v.Authenticated():
		return public
	case v.Moderator():
		return post.Or(post.StatusEQ(post.StatusPUBLISHED), post.AuthorID(v.UserID))
	}
	return post.Or(public, post.AuthorID(v.UserID))
}

// FilterPosts hides other people's drafts and hidden posts from every post query.
func FilterPosts() privacy.QueryRule {
	return privacy.PostQueryRuleFunc(func(ctx context.Context, q *ent.PostQuery) error {
		q.Where(visiblePosts(ctx))
		return privacy.Skip
	})
}

// FilterComments hides comments on posts the viewer may not see, and hidden comments from everyone
// but their author and moderators.
func FilterComments() privacy.QueryRule {
	return privacy.CommentQueryRuleFunc(func(ctx context.Context, q *ent.CommentQuery) error {
		v := auth.FromContext(ctx)
		q.Where(commentsOnVisiblePosts(v))
		if !v.Moderator() {
			q.Where(comment.Or(comment.HiddenAtIsNil(), comment.AuthorID(v.UserID)))
		}
		return privacy.Skip
	})
}

// commentsOnVisiblePosts is visiblePosts for the comments of those posts. It reads the post's
// visibility from the comment's own post_visibility (which the database keeps equal to the post's),
// so that PostgreSQL filters a page of comments on the rows it reads from the comments' index
// instead of looking their post up once per comment; the viewer's own posts, the one case that
// needs the posts table, are listed once per statement (an uncorrelated subquery), and only when
// a comment is not on a public post.
func commentsOnVisiblePosts(v auth.Viewer) predicate.Comment {
	public := comment.PostVisibilityEQ(comment.PostVisibilityPUBLIC)
	switch {
	case !v.Authenticated():
		return public
	case v.Moderator():
		public = comment.PostVisibilityIn(comment.PostVisibilityPUBLIC, comment.PostVisibilityHIDDEN)
	}
	return comment.Or(public, func(s *sql.Selector) {
		posts := sql.Table(post.Table)
		s.Where(sql.In(s.C(comment.FieldPostID),
			sql.Select(posts.C(post.FieldID)).From(posts).Where(sql.EQ(posts.C(post.FieldAuthorID), v.UserID))))
	})
}

// FilterUnusedTags hides tags that are on no post the viewer may see, so a draft's tags stay private
// until it is published. The tags of posts, eager-loaded, are on those posts: FilterPosts let them
// through with the same filter, so the check, a semi-join per tag, is left out there.
func FilterUnusedTags() privacy.QueryRule {
	return privacy.TagQueryRuleFunc(func(ctx context.Context, q *ent.TagQuery) error {
		used := tag.HasPostsWith(visiblePosts(ctx))
		q.Where(func(s *sql.Selector) {
			if ent.LoadedThrough(s) != "Post.tags" {
				used(s)
			}
		})
		return privacy.Skip
	})
}

// RequireWriter denies every write by viewers without the write scope: anonymous and banned users.
func RequireWriter() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, _ ent.Mutation) error {
		if !auth.FromContext(ctx).HasScope(auth.ScopeWrite) {
			return privacy.Denyf("writing needs a signed-in, unbanned user")
		}
		return privacy.Skip
	})
}

// OwnPosts lets authors create posts as themselves and change or delete their own; moderators may
// change or delete any post.
func OwnPosts() privacy.MutationRule {
	return privacy.PostMutationRuleFunc(func(ctx context.Context, m *ent.PostMutation) error {
		v := auth.FromContext(ctx)
		if m.Op().Is(ent.OpCreate) {
			if id, _ := m.AuthorID(); id != v.UserID {
				return privacy.Denyf("posts are created by their author")
			}
			return privacy.Allow
		}
		if touchesEdges(m, post.EdgeLikedBy, post.EdgeLikes, post.EdgeComments) {
			return privacy.Denyf("likes and comments are written through their own mutations")
		}
		if !v.Moderator() {
			if _, hides := m.HiddenAt(); hides || m.HiddenAtCleared() {
				return privacy.Denyf("only moderators hide or unhide posts")
			}
			m.Where(post.AuthorID(v.UserID))
		}
		return privacy.Allow
	})
}

// OwnComments is OwnPosts for comments.
func OwnComments() privacy.MutationRule {
	return privacy.CommentMutationRuleFunc(func(ctx context.Context, m *ent.CommentMutation) error {
		v := auth.FromContext(ctx)
		if m.Op().Is(ent.OpCreate) {
			if id, _ := m.AuthorID(); id != v.UserID {
				return privacy.Denyf("comments are created by their author")
			}
			return privacy.Allow
		}
		if !v.Moderator() {
			if _, hides := m.HiddenAt(); hides || m.HiddenAtCleared() {
				return privacy.Denyf("only moderators hide or unhide comments")
			}
			m.Where(comment.AuthorID(v.UserID))
		}
		return privacy.Allow
	})
}

// OwnLikes lets users like and unlike as themselves only; a like is never edited.
func OwnLikes() privacy.MutationRule {
	return privacy.LikeMutationRuleFunc(func(ctx context.Context, m *ent.LikeMutation) error {
		v := auth.FromContext(ctx)
		if m.Op().Is(ent.OpUpdate | ent.OpUpdateOne) {
			return privacy.Denyf("likes are created and deleted, never changed")
		}
		if m.Op().Is(ent.OpCreate) {
			if id, _ := m.UserID(); id != v.UserID {
				return privacy.Denyf("likes are created by their user")
			}
			return privacy.Allow
		}
		m.Where(like.UserID(v.UserID))
		return privacy.Allow
	})
}

// OwnFollows lets users follow and unfollow as themselves only; a follow is never edited.
func OwnFollows() privacy.MutationRule {
	return privacy.FollowMutationRuleFunc(func(ctx context.Context, m *ent.FollowMutation) error {
		v := auth.FromContext(ctx)
		if m.Op().Is(ent.OpUpdate | ent.OpUpdateOne) {
			return privacy.Denyf("follows are created and deleted, never changed")
		}
		if m.Op().Is(ent.OpCreate) {
			if id, _ := m.FollowingID(); id != v.UserID {
				return privacy.Denyf("follows are created by the follower")
			}
			return privacy.Allow
		}
		m.Where(follow.FollowingID(v.UserID))
		return privacy.Allow
	})
}

// TagWrites lets writers create bare tags (posts link them through their own, checked, mutation)
// and moderators change them.
func TagWrites() privacy.MutationRule {
	return privacy.TagMutationRuleFunc(func(ctx context.Context, m *ent.TagMutation) error {
		v := auth.FromContext(ctx)
		if v.HasScope(auth.ScopeModerate) || m.Op().Is(ent.OpCreate) && v.HasScope(auth.ScopeWrite) && !touchesEdges(m, tag.EdgePosts) {
			return privacy.Allow
		}
		return privacy.Denyf("tags are created with posts and changed by moderators")
	})
}

// UserWrites lets anyone sign up (as a plain user), users change their own profile, and admins
// change roles and bans.
func UserWrites() privacy.MutationRule {
	return privacy.UserMutationRuleFunc(func(ctx context.Context, m *ent.UserMutation) error {
		v := auth.FromContext(ctx)
		role, setsRole := m.Role()
		_, setsBan := m.BannedAt()
		// ent fills defaults before policies run: a sign-up carries role USER.
		privileged := setsRole && !(m.Op().Is(ent.OpCreate) && role == user.RoleUSER) || setsBan || m.BannedAtCleared()
		if len(m.AddedEdges())+len(m.RemovedEdges())+len(m.ClearedEdges()) > 0 {
			// Follows, likes, posts and sessions are written through their own, checked, mutations.
			return privacy.Denyf("a user's relations are not changed through the user")
		}
		switch {
		case v.HasScope(auth.ScopeAdmin):
			return privacy.Allow
		case privileged:
			return privacy.Denyf("only admins change roles and bans")
		case m.Op().Is(ent.OpCreate):
			return privacy.Allow // sign-up
		case v.HasScope(auth.ScopeWrite):
			m.Where(user.ID(v.UserID))
			return privacy.Allow
		}
		return privacy.Denyf("users change their own profile only")
	})
}

// touchesEdges reports whether m adds, removes or clears any of the named edges.
func touchesEdges(m ent.Mutation, names ...string) bool {
	for _, list := range [][]string{m.AddedEdges(), m.RemovedEdges(), m.ClearedEdges()} {
		for _, e := range list {
			if slices.Contains(names, e) {
				return true
			}
		}
	}
	return false
}
