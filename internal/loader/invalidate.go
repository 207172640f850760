package loader

import (
	"context"
	"fmt"
	"slices"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/follow"
	"github.com/agora/agora/ent/like"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/internal/database"
)

// Watch keeps the second level true to the database: every write through client (or a
// transaction of it) to users, posts, tags, likes and follows invalidates the cached entities and
// counts it changes, once its transaction commits (database.AfterCommit), and not at all when it
// rolls back. A transaction's keys go to the store together, in one invalidation. Writers need
// not know the keys: they are computed here, from the mutation, by the package that fills them.
//
// Updates and deletes find the rows they change before the statement runs, while the rows still
// match its predicates (privacy rules may narrow a statement further: more keys than needed are
// invalidated then, never fewer). Rows deleted by the database's cascades (a user's posts when the
// user is deleted) are not seen; their keys expire with their TTL.
func (c *Cache) Watch(client *ent.Client) {
	client.User.Use(invalidating(c, userKeys, createdID(func(u *ent.User) int { return u.ID })))
	client.Post.Use(invalidating(c, postKeys, createdID(func(p *ent.Post) int { return p.ID })))
	client.Tag.Use(invalidating(c, tagKeys, createdID(func(t *ent.Tag) int { return t.ID })))
	client.Like.Use(invalidating(c, likeKeys, nil))
	client.Follow.Use(invalidating(c, followKeys, nil))
}

// mutation is what the hooks use of every generated mutation type.
type mutation interface {
	ent.Mutation
	IDs(context.Context) ([]int, error)
}

// invalidating is the hook of one entity type: keys returns what a mutation changes, given the rows
// it changes — before the statement for updates and deletes, after it (with the new row's ID from
// created) for creates, whose edges may change other keys too.
func invalidating[M mutation](c *Cache, keys func(ctx context.Context, m M, ids []int) ([]string, error), created func(ent.Value) []int) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			tm, ok := m.(M)
			if !ok {
				return next.Mutate(ctx, m)
			}
			var before []string
			if !m.Op().Is(ent.OpCreate) {
				ids, err := tm.IDs(system(ctx))
				if err == nil {
					before, err = keys(ctx, tm, ids)
				}
				if err != nil {
					return nil, fmt.Errorf("the cache keys a %s mutation changes: %w", m.Type(), err)
				}
			}
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return v, err
			}
			if m.Op().Is(ent.OpCreate) {
				var ids []int
				if created != nil {
					ids = created(v)
				}
				if before, err = keys(ctx, tm, ids); err != nil {
					return nil, fmt.Errorf("the cache keys a %s mutation changes: %w", m.Type(), err)
				}
			}
			c.invalidations.Add(database.MutationContext(ctx, m), before...)
			return v, nil
		})
	}
}

// system reads what a write changes past the privacy rules, which are for viewers.
func system(ctx context.Context) context.Context { return privacy.DecisionContext(ctx, privacy.Allow) }

// createdID returns the ID of the row a create made, when it made one (an insert that did nothing
// on conflict may not have).
func createdID[T any](id func(*T) int) func(ent.Value) []int {
	return func(v ent.Value) []int {
		if e, ok := v.(*T); ok && e != nil && id(e) != 0 {
			return []int{id(e)}
		}
		return nil
	}
}

// invalidate drops keys from the store after a commit; a failure leaves them stale for at most their
// TTL (a RedisStore retries it before its next read).
func (c *Cache) invalidate(ctx context.Context, keys []string) {
	slices.Sort(keys)
	_ = c.store.Invalidate(ctx, slices.Compact(keys)...)
}

// userKeys: a user's entity and, when their follows or likes change through the user, the counts
// at both ends. (authz lets no viewer change those relations through a user.)
func userKeys(_ context.Context, m *ent.UserMutation, ids []int) ([]string, error) {
	keys := keysFor(userKey, ids)
	if followers := slices.Concat(m.FollowersIDs(), m.RemovedFollowersIDs()); len(followers) > 0 || m.FollowersCleared() {
		keys = append(keys, keysFor(followerCountKey, ids)...)
		keys = append(keys, keysFor(followingCountKey, followers)...)
	}
	if following := slices.Concat(m.FollowingIDs(), m.RemovedFollowingIDs()); len(following) > 0 || m.FollowingCleared() {
		keys = append(keys, keysFor(followingCountKey, ids)...)
		keys = append(keys, keysFor(followerCountKey, following)...)
	}
	if m.Op().Is(ent.OpDelete | ent.OpDeleteOne) {
		keys = append(keys, keysFor(followerCountKey, ids)...)
		keys = append(keys, keysFor(followingCountKey, ids)...)
	}
	return append(keys, keysFor(likeCountKey, slices.Concat(m.LikedPostsIDs(), m.RemovedLikedPostsIDs()))...), nil
}

// postKeys: a post's entity; its like count when it is deleted or its likes change through it; and
// its tags — entity and post count — when what they count or show may change: a tag counts the
// published, unhidden posts it is on and is visible while on a post the viewer may see.
func postKeys(ctx context.Context, m *ent.PostMutation, ids []int) ([]string, error) {
	keys := keysFor(postKey, ids)
	deletes := m.Op().Is(ent.OpDelete | ent.OpDeleteOne)
	if deletes || len(m.LikedByIDs())+len(m.RemovedLikedByIDs()) > 0 || m.LikedByCleared() {
		keys = append(keys, keysFor(likeCountKey, ids)...)
	}
	_, status := m.Status()
	_, hides := m.HiddenAt()
	if !(deletes || m.Op().Is(ent.OpCreate) || status || hides || m.HiddenAtCleared() ||
		len(m.TagsIDs())+len(m.RemovedTagsIDs()) > 0 || m.TagsCleared()) {
		return keys, nil
	}
	tags := m.TagsIDs() // added; removed ones are among the tags the posts have now
	if !m.Op().Is(ent.OpCreate) && len(ids) > 0 {
		now, err := m.Client().Tag.Query().Where(tag.HasPostsWith(post.IDIn(ids...))).IDs(system(ctx))
		if err != nil {
			return nil, err
		}
		tags = append(tags, now...)
	}
	keys = append(keys, keysFor(tagKey, tags)...)
	return append(keys, keysFor(tagPostCountKey, tags)...), nil
}

// tagKeys: a tag's entity and post count.
func tagKeys(_ context.Context, _ *ent.TagMutation, ids []int) ([]string, error) {
	return append(keysFor(tagKey, ids), keysFor(tagPostCountKey, ids)...), nil
}

// likeKeys: the like count of the posts of the likes written (a new like's, or those an update or
// delete changes).
func likeKeys(ctx context.Context, m *ent.LikeMutation, ids []int) ([]string, error) {
	posts := m.PostIDs()
	if len(ids) > 0 {
		had, err := m.Client().Like.Query().Where(like.IDIn(ids...)).Select(like.FieldPostID).Ints(system(ctx))
		if err != nil {
			return nil, err
		}
		posts = append(posts, had...)
	}
	return keysFor(likeCountKey, posts), nil
}

// followKeys: the follower count of the followed users and the following count of the followers.
func followKeys(ctx context.Context, m *ent.FollowMutation, ids []int) ([]string, error) {
	var followed, followers []int
	if id, ok := m.UserID(); ok {
		followed = append(followed, id)
	}
	if id, ok := m.FollowingID(); ok {
		followers = append(followers, id)
	}
	if len(ids) > 0 {
		had, err := m.Client().Follow.Query().Where(follow.IDIn(ids...)).Select(follow.FieldUserID, follow.FieldFollowingID).All(system(ctx))
		if err != nil {
			return nil, err
		}
		for _, f := range had {
			followed, followers = append(followed, f.UserID), append(followers, f.FollowingID)
		}
	}
	return append(keysFor(followerCountKey, followed), keysFor(followingCountKey, followers)...), nil
}

func keysFor(key func(int) string, ids []int) []string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = key(id)
	}
	return keys
}
