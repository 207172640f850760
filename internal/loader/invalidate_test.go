package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/follow"
	"github.com/agora/agora/ent/like"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// recorder is a store that records the keys of each invalidation.
type recorder struct {
	*cache.MemoryStore
	mu    sync.Mutex
	calls [][]string
}

func (r *recorder) Invalidate(ctx context.Context, keys ...string) error {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Sorted(slices.Values(keys)))
	r.mu.Unlock()
	return r.MemoryStore.Invalidate(ctx, keys...)
}

// take returns the invalidations since the last take.
func (r *recorder) take() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.calls
	r.calls = nil
	return calls
}

// allow writes fixtures past the privacy rules.
var allow = system(context.Background())

// world: ada wrote pub (published, tags t1 and t2) and draft (tag t3); bob likes pub and follows ada.
type world struct {
	ada, bob   *ent.User
	pub, draft *ent.Post
	t1, t2, t3 *ent.Tag
	like       *ent.Like
}

func newWorld(t *testing.T, c *ent.Client, prefix string) *world {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w := &world{}
	var err error
	mkUser := func(name string) *ent.User {
		u, err := c.User.Create().SetUsername(prefix + name).SetEmail(prefix + name + "@example.com").
			SetPasswordHash("x").SetDisplayName(name).Save(allow)
		must(err)
		return u
	}
	w.ada, w.bob = mkUser("ada"), mkUser("bob")
	w.t1, err = c.Tag.Create().SetName(prefix + "t1").Save(allow)
	must(err)
	w.t2, err = c.Tag.Create().SetName(prefix + "t2").Save(allow)
	must(err)
	w.t3, err = c.Tag.Create().SetName(prefix + "t3").Save(allow)
	must(err)
	w.pub, err = c.Post.Create().SetAuthorID(w.ada.ID).SetSlug(prefix+"pub").SetTitle("Pub").SetDescription("").SetBody("").
		SetStatus(post.StatusPUBLISHED).SetPublishedAt(time.Now()).AddTags(w.t1, w.t2).Save(allow)
	must(err)
	w.draft, err = c.Post.Create().SetAuthorID(w.ada.ID).SetSlug(prefix + "draft").SetTitle("Draft").SetDescription("").SetBody("").
		AddTags(w.t3).Save(allow)
	must(err)
	w.like, err = c.Like.Create().SetUserID(w.bob.ID).SetPostID(w.pub.ID).Save(allow)
	must(err)
	must(c.Follow.Create().SetUserID(w.ada.ID).SetFollowingID(w.bob.ID).Exec(allow))
	return w
}

// tagEntries are the keys of tags: entity and post count.
func tagEntries(ids ...int) []string {
	return append(keysFor(tagKey, ids), keysFor(tagPostCountKey, ids)...)
}

// TestWatch: each write to users, posts, tags, likes and follows invalidates exactly the cached
// entities and counts it changes, in one invalidation per transaction, after the commit — and
// nothing when it fails or rolls back.
func TestWatch(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		store := &recorder{MemoryStore: cache.NewMemoryStore(1000)}
		NewCache(store).Watch(db.Client)
		errBoom := errors.New("boom")
		for i, tc := range []struct {
			name string
			// write changes w, in a transaction when tx is set (ctx carries it), and returns the
			// keys it changes.
			tx    bool
			write func(ctx context.Context, c *ent.Client, w *world) ([]string, error)
			fails bool
		}{
			{name: "create user: its ID, cached as missing", write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				u, err := c.User.Create().SetUsername("new").SetEmail("new@example.com").SetPasswordHash("x").SetDisplayName("New").Save(ctx)
				if err != nil {
					return nil, err
				}
				return []string{userKey(u.ID)}, nil
			}},
			{name: "update one user", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return []string{userKey(w.ada.ID)}, c.User.UpdateOneID(w.ada.ID).SetBio("hi").Exec(ctx)
			}},
			{name: "bulk update users: those it matches", write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return []string{userKey(w.ada.ID), userKey(w.bob.ID)},
					c.User.Update().Where(user.IDIn(w.ada.ID, w.bob.ID, w.bob.ID+1000)).SetBio("hi").Exec(ctx)
			}},
			{name: "bulk update matching nothing", write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return nil, c.User.Update().Where(user.Username("nobody")).SetBio("hi").Exec(ctx)
			}},
			{name: "create post: its ID and its tags", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				p, err := c.Post.Create().SetAuthorID(w.ada.ID).SetSlug("new").SetTitle("New").SetDescription("").SetBody("").AddTags(w.t1).Save(ctx)
				if err != nil {
					return nil, err
				}
				return append([]string{postKey(p.ID)}, tagEntries(w.t1.ID)...), nil
			}},
			{name: "edit a post's text: the post only", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return []string{postKey(w.pub.ID)}, c.Post.UpdateOneID(w.pub.ID).SetTitle("Edited").Exec(ctx)
			}},
			{name: "publish a draft: its tags too", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return append([]string{postKey(w.draft.ID)}, tagEntries(w.t3.ID)...),
					c.Post.UpdateOneID(w.draft.ID).SetStatus(post.StatusPUBLISHED).SetPublishedAt(time.Now()).Exec(ctx)
			}},
			{name: "hide a post: its tags too", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return append([]string{postKey(w.pub.ID)}, tagEntries(w.t1.ID, w.t2.ID)...),
					c.Post.UpdateOneID(w.pub.ID).SetHiddenAt(time.Now()).Exec(ctx)
			}},
			{name: "replace a post's tags: old and new", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return append([]string{postKey(w.pub.ID)}, tagEntries(w.t1.ID, w.t2.ID, w.t3.ID)...),
					c.Post.UpdateOneID(w.pub.ID).ClearTags().AddTagIDs(w.t3.ID).Exec(ctx)
			}},
			{name: "delete a post: its like count and tags too", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return append([]string{postKey(w.pub.ID), likeCountKey(w.pub.ID)}, tagEntries(w.t1.ID, w.t2.ID)...),
					c.Post.DeleteOneID(w.pub.ID).Exec(ctx)
			}},
			{name: "bulk delete posts", write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				_, err := c.Post.Delete().Where(post.AuthorID(w.ada.ID)).Exec(ctx)
				return append([]string{postKey(w.pub.ID), postKey(w.draft.ID), likeCountKey(w.pub.ID), likeCountKey(w.draft.ID)},
					tagEntries(w.t1.ID, w.t2.ID, w.t3.ID)...), err
			}},
			{name: "create tag", write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				tg, err := c.Tag.Create().SetName("new").Save(ctx)
				if err != nil {
					return nil, err
				}
				return tagEntries(tg.ID), nil
			}},
			{name: "like: the post's like count", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return []string{likeCountKey(w.draft.ID)}, c.Like.Create().SetUserID(w.bob.ID).SetPostID(w.draft.ID).Exec(ctx)
			}},
			{name: "unlike (bulk delete)", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				_, err := c.Like.Delete().Where(like.UserID(w.bob.ID), like.PostID(w.pub.ID)).Exec(ctx)
				return []string{likeCountKey(w.pub.ID)}, err
			}},
			{name: "unlike (delete one)", write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return []string{likeCountKey(w.pub.ID)}, c.Like.DeleteOneID(w.like.ID).Exec(ctx)
			}},
			{name: "follow: follower and following counts", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				return []string{followerCountKey(w.bob.ID), followingCountKey(w.ada.ID)},
					c.Follow.Create().SetUserID(w.bob.ID).SetFollowingID(w.ada.ID).Exec(ctx)
			}},
			{name: "unfollow", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				_, err := c.Follow.Delete().Where(follow.UserID(w.ada.ID), follow.FollowingID(w.bob.ID)).Exec(ctx)
				return []string{followerCountKey(w.ada.ID), followingCountKey(w.bob.ID)}, err
			}},
			{name: "several writes, one invalidation", tx: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				if err := c.User.UpdateOneID(w.bob.ID).SetBio("hi").Exec(ctx); err != nil {
					return nil, err
				}
				return []string{userKey(w.bob.ID), likeCountKey(w.draft.ID)}, c.Like.Create().SetUserID(w.bob.ID).SetPostID(w.draft.ID).Exec(ctx)
			}},
			{name: "rolled back", tx: true, fails: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				if err := c.Post.UpdateOneID(w.pub.ID).SetHiddenAt(time.Now()).Exec(ctx); err != nil {
					return nil, err
				}
				return nil, errBoom
			}},
			{name: "denied by privacy", fails: true, write: func(ctx context.Context, c *ent.Client, w *world) ([]string, error) {
				// Likes are never edited, whoever asks.
				return nil, c.Like.UpdateOneID(w.like.ID).SetPostID(w.draft.ID).Exec(auth.WithViewer(context.Background(), auth.Viewer{UserID: w.bob.ID, Role: auth.RoleUser}))
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := newWorld(t, db.Client, fmt.Sprintf("w%d", i))
				store.take()
				var want []string
				var err error
				if tc.tx {
					err = database.InTx(allow, db.Client, func(ctx context.Context, tx *ent.Tx) (err error) {
						want, err = tc.write(ctx, tx.Client(), w)
						if calls := store.take(); len(calls) > 0 {
							t.Errorf("invalidated before the commit: %q", calls)
						}
						return err
					})
				} else {
					want, err = tc.write(allow, db.Client, w)
				}
				if (err != nil) != tc.fails {
					t.Fatalf("write: %v", err)
				}
				calls := store.take()
				if tc.fails || len(want) == 0 {
					if len(calls) > 0 {
						t.Fatalf("a write that changed nothing invalidated %q", calls)
					}
					return
				}
				if len(calls) != 1 {
					t.Fatalf("want one invalidation, got %d: %q", len(calls), calls)
				}
				if want = slices.Compact(slices.Sorted(slices.Values(want))); !slices.Equal(calls[0], want) {
					t.Fatalf("invalidated %q\nwant        %q", calls[0], want)
				}
			})
		}
	})
}

// TestCountsFollowWrites: counts and entities read through the loaders (and cached) show every
// committed write at once; a tag counts the posts everyone may see — not drafts, not hidden posts.
func TestCountsFollowWrites(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		store := &recorder{MemoryStore: cache.NewMemoryStore(1000)}
		c := NewCache(store)
		c.Watch(db.Client)
		w := newWorld(t, db.Client, "")
		ctx := context.Background()
		type state struct{ t1, t3, likes, followers, following int }
		read := func() state {
			t.Helper()
			l := New(db.Client, c, auth.Viewer{}, nil) // a fresh request's loaders: the cache is what persists
			var s state
			var err error
			for _, r := range []struct {
				into *int
				load func() (int, error)
			}{
				{&s.t1, func() (int, error) { return l.PostCountByTag().Load(ctx, w.t1.ID) }},
				{&s.t3, func() (int, error) { return l.PostCountByTag().Load(ctx, w.t3.ID) }},
				{&s.likes, func() (int, error) { return l.LikeCountByPost().Load(ctx, w.pub.ID) }},
				{&s.followers, func() (int, error) { return l.FollowerCountByUser().Load(ctx, w.ada.ID) }},
				{&s.following, func() (int, error) { return l.FollowingCountByUser().Load(ctx, w.bob.ID) }},
			} {
				if *r.into, err = r.load(); err != nil {
					t.Fatal(err)
				}
			}
			return s
		}
		for _, step := range []struct {
			name  string
			write func() error
			want  state
		}{
			{"start", func() error { return nil }, state{t1: 1, t3: 0, likes: 1, followers: 1, following: 1}},
			{"publish the draft", func() error {
				return db.Client.Post.UpdateOneID(w.draft.ID).SetStatus(post.StatusPUBLISHED).SetPublishedAt(time.Now()).Exec(allow)
			}, state{t1: 1, t3: 1, likes: 1, followers: 1, following: 1}},
			{"tag it t1 too", func() error {
				return database.InTx(allow, db.Client, func(ctx context.Context, tx *ent.Tx) error {
					return tx.Post.UpdateOneID(w.draft.ID).AddTagIDs(w.t1.ID).Exec(ctx)
				})
			}, state{t1: 2, t3: 1, likes: 1, followers: 1, following: 1}},
			{"hide pub", func() error { return db.Client.Post.UpdateOneID(w.pub.ID).SetHiddenAt(time.Now()).Exec(allow) },
				state{t1: 1, t3: 1, likes: 1, followers: 1, following: 1}},
			{"a new draft tagged t1", func() error {
				return db.Client.Post.Create().SetAuthorID(w.bob.ID).SetSlug("d2").SetTitle("D2").SetDescription("").SetBody("").AddTagIDs(w.t1.ID).Exec(allow)
			}, state{t1: 1, t3: 1, likes: 1, followers: 1, following: 1}},
			{"unlike and unfollow", func() error {
				return database.InTx(allow, db.Client, func(ctx context.Context, tx *ent.Tx) error {
					if _, err := tx.Like.Delete().Where(like.PostID(w.pub.ID)).Exec(ctx); err != nil {
						return err
					}
					_, err := tx.Follow.Delete().Where(follow.FollowingID(w.bob.ID)).Exec(ctx)
					return err
				})
			}, state{t1: 1, t3: 1, likes: 0, followers: 0, following: 0}},
		} {
			if err := step.write(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			for range 2 { // as read, then as cached
				if got := read(); got != step.want {
					t.Fatalf("after %s: got %+v, want %+v", step.name, got, step.want)
				}
			}
		}
		if s := c.Stats(); s.Hits == 0 {
			t.Fatalf("nothing came from the cache: %+v", s)
		}
	})
}
