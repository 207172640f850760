package authz

import (
	"context"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/agora/agora/ent/membership"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/auth"
)

// CurrentMembership holds for the memberships that give access at now: active ones, and past-due
// or canceled ones until the end of the period paid for.
func CurrentMembership(now time.Time) predicate.Membership {
	return membership.Or(
		membership.StatusEQ(membership.StatusACTIVE),
		membership.And(membership.StatusIn(membership.StatusPAST_DUE, membership.StatusCANCELED), membership.CurrentPeriodEndGT(now)),
	)
}

// ReadableBodies holds for the posts whose body (and inline images) the viewer reads: PUBLIC
// posts; MEMBERS posts for their author, moderators and the author's current members. It is
// loader.ViewerReadsBody as a query, for rows a query decides on (a post's inline images).
func ReadableBodies(ctx context.Context) predicate.Post {
	v := auth.FromContext(ctx)
	public := post.VisibilityEQ(post.VisibilityPUBLIC)
	switch {
	case !v.Authenticated():
		return public
	case v.Moderator():
		return func(*sql.Selector) {}
	}
	return post.Or(public, post.AuthorID(v.UserID),
		post.HasAuthorWith(user.HasMembersWith(membership.MemberID(v.UserID), CurrentMembership(time.Now()))))
}
