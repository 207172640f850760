// Package filter turns the list filters of the public schema (PostFilter, UserFilter, TagFilter in
// schema/*.graphqls) into ent predicates. The surface is designed, not generated:
//
//   - every condition is on a column of the listed entity, or reaches an entity without read rules
//     (a post's author), or one whose rule the listed row already satisfies (a visible post's
//     tags are visible tags): no condition observes a row the viewer may not see, such as a hidden
//     comment or someone else's draft. The listed entity's own privacy rule still applies to the
//     query as a whole;
//   - every condition is an equality, a membership in a short list or a time range, each served by
//     an index (ent/schema): no substring matching on text — full text is `search`'s;
//   - lists are bounded, and there is no and/or/not nesting.
package filter

import (
	"time"

	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/slug"
)

// MaxNames is the most tag names a filter may list.
const MaxNames = 20

// maxUsername is the longest username there is (ent/schema/user.go).
const maxUsername = 32

// Posts filters Query.posts (GraphQL PostFilter): every condition given must hold.
type Posts struct {
	AuthorID        *int         `json:"authorID"`
	AuthorUsername  *string      `json:"authorUsername"`
	Tags            []string     `json:"tags"`
	Status          *post.Status `json:"status"`
	CreatedAfter    *time.Time   `json:"createdAfter"`
	CreatedBefore   *time.Time   `json:"createdBefore"`
	PublishedAfter  *time.Time   `json:"publishedAfter"`
	PublishedBefore *time.Time   `json:"publishedBefore"`
}

// Predicates returns the conditions of f (none for a nil filter), or an Invalid error naming the
// field at fault.
func (f *Posts) Predicates() ([]predicate.Post, error) {
	if f == nil {
		return nil, nil
	}
	var ps []predicate.Post
	if f.AuthorID != nil {
		ps = append(ps, post.AuthorID(*f.AuthorID))
	}
	if f.AuthorUsername != nil {
		name := account.NormalizeUsername(*f.AuthorUsername)
		if len(name) > maxUsername {
			return nil, apperr.InvalidField("where.authorUsername", "must be at most %d characters", maxUsername)
		}
		// Users have no read rule: every username is public (Query.user).
		ps = append(ps, post.HasAuthorWith(user.Username(name)))
	}
	if len(f.Tags) > 0 {
		names, err := tagNames("where.tags", f.Tags)
		if err != nil {
			return nil, err
		}
		// A tag is visible when a visible post carries it (authz.FilterUnusedTags): every post
		// this matches is visible and carries the tag, so no invisible tag is observed.
		ps = append(ps, post.HasTagsWith(tag.NameIn(names...)))
	}
	if f.Status != nil {
		// Only the viewer's own drafts pass the Post rule: DRAFT lists their drafts.
		ps = append(ps, post.StatusEQ(*f.Status))
	}
	if f.CreatedAfter != nil {
		ps = append(ps, post.CreatedAtGT(*f.CreatedAfter))
	}
	if f.CreatedBefore != nil {
		ps = append(ps, post.CreatedAtLT(*f.CreatedBefore))
	}
	if f.PublishedAfter != nil {
		ps = append(ps, post.PublishedAtGT(*f.PublishedAfter))
	}
	if f.PublishedBefore != nil {
		ps = append(ps, post.PublishedAtLT(*f.PublishedBefore))
	}
	return ps, nil
}

// Users filters Query.users (GraphQL UserFilter).
type Users struct {
	Role *user.Role `json:"role"`
}

// Predicates returns the conditions of f (none for a nil filter).
func (f *Users) Predicates() ([]predicate.User, error) {
	if f == nil {
		return nil, nil
	}
	var ps []predicate.User
	if f.Role != nil {
		ps = append(ps, user.RoleEQ(*f.Role))
	}
	return ps, nil
}

// Tags filters Query.tags (GraphQL TagFilter).
type Tags struct {
	Names []string `json:"names"`
}

// Predicates returns the conditions of f (none for a nil filter), or an Invalid error naming the
// field at fault.
func (f *Tags) Predicates() ([]predicate.Tag, error) {
	if f == nil || len(f.Names) == 0 {
		return nil, nil
	}
	names, err := tagNames("where.names", f.Names)
	if err != nil {
		return nil, err
	}
	return []predicate.Tag{tag.NameIn(names...)}, nil
}

// tagNames normalizes tag names as posts' tags are, refusing more than MaxNames and names that
// normalize to nothing.
func tagNames(field string, names []string) ([]string, error) {
	if len(names) > MaxNames {
		return nil, apperr.InvalidField(field, "at most %d tag names", MaxNames)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		t := slug.Tag(n)
		if t == "" {
			return nil, apperr.InvalidField(field, "a tag name needs letters or digits")
		}
		out = append(out, t)
	}
	return out, nil
}
