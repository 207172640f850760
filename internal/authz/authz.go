// Package authz holds the row-level rules that ent privacy policies apply on every query, whatever
// path reached the data (a root field, node(id), a nested edge).
package authz

import (
	"context"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/comment"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/internal/auth"
)

// visiblePosts is the filter for posts the viewer may see: published ones, plus their own drafts.
func visiblePosts(ctx context.Context) predicate.Post {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return post.StatusEQ(post.StatusPUBLISHED)
	}
	return post.Or(post.StatusEQ(post.StatusPUBLISHED), post.AuthorID(v.UserID))
}

// FilterDraftPosts hides other people's drafts from every post query.
func FilterDraftPosts() privacy.QueryRule {
	return privacy.PostQueryRuleFunc(func(ctx context.Context, q *ent.PostQuery) error {
		q.Where(visiblePosts(ctx))
		return privacy.Skip
	})
}

// FilterDraftComments hides comments on posts the viewer may not see.
func FilterDraftComments() privacy.QueryRule {
	return privacy.CommentQueryRuleFunc(func(ctx context.Context, q *ent.CommentQuery) error {
		q.Where(comment.HasPostWith(visiblePosts(ctx)))
		return privacy.Skip
	})
}

// FilterUnusedTags hides tags that are on no post the viewer may see, so a draft's tags stay private
// until it is published.
func FilterUnusedTags() privacy.QueryRule {
	return privacy.TagQueryRuleFunc(func(ctx context.Context, q *ent.TagQuery) error {
		q.Where(tag.HasPostsWith(visiblePosts(ctx)))
		return privacy.Skip
	})
}
