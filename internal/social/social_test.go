package social_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/social"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is the service as the app wires it: the loader's cache watching the client.
type env struct {
	db    *database.DB
	s     *social.Service
	cache *loader.Cache
	q     *jobs.Queue // notices are its jobs
}

func newEnv(t testing.TB, db *database.DB) *env {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	events := live.New(db.Client, testenv.NewBus(), log)
	c := loader.NewCache(cache.NewMemoryStore(1000))
	c.Watch(db.Client)
	q := testenv.NewQueue(db)
	defer testenv.StartQueue(t, q) // once the services registered their workers
	return &env{db: db, s: social.New(db.Client, notify.New(db.Client, events, q, log)), cache: c, q: q}
}

// count reads a count through fresh loaders, twice: as read, then as cached.
func (e *env) count(t *testing.T, load func(*loader.Loaders) (int, error)) int {
	t.Helper()
	var n [2]int
	for i := range n {
		var err error
		if n[i], err = load(loader.New(e.db.Client, e.cache, auth.Viewer{}, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n[0] != n[1] {
		t.Fatalf("read %d, then %d from the cache", n[0], n[1])
	}
	return n[0]
}

func (e *env) notices(t *testing.T, to *ent.User, kind notification.Kind) int {
	t.Helper()
	n, err := e.db.Client.Notification.Query().Where(notification.RecipientID(to.ID), notification.KindEQ(kind)).Count(testenv.System)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLikes: likes are idempotent; the author hears of a new like (not of their own, not twice);
// only posts the viewer may see can be liked; the like count shows each change at once.
func TestLikes(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		ada, bob := testenv.NewUser(t, db.Client, "ada", ""), testenv.NewUser(t, db.Client, "bob", "")
		banned := auth.WithViewer(context.Background(), auth.Viewer{UserID: bob.ID, Role: auth.RoleUser, Banned: true})
		published, draft := testenv.NewPost(t, db.Client, ada, "Published", true), testenv.NewPost(t, db.Client, ada, "Draft", false)
		likes := func(l *loader.Loaders) (int, error) {
			return l.LikeCountByPost().Load(context.Background(), published.ID)
		}
		for _, step := range []struct {
			name    string
			ctx     context.Context
			unlike  bool
			post    *ent.Post
			want    string
			count   int // of the published post, after the step
			notices int // to ada, after the step
		}{
			{name: "before", ctx: testenv.As(bob), post: nil, count: 0},
			{name: "like", ctx: testenv.As(bob), post: published, want: "ok", count: 1, notices: 1},
			{name: "like again", ctx: testenv.As(bob), post: published, want: "ok", count: 1, notices: 1},
			{name: "like one's own", ctx: testenv.As(ada), post: published, want: "ok", count: 2, notices: 1},
			{name: "like someone's draft", ctx: testenv.As(bob), post: draft, want: "NOT_FOUND:postID", count: 2, notices: 1},
			{name: "unlike while banned", ctx: banned, post: published, unlike: true, want: "denied", count: 2, notices: 1},
			{name: "like signed out", ctx: context.Background(), post: published, want: "UNAUTHENTICATED", count: 2, notices: 1},
			{name: "unlike", ctx: testenv.As(bob), post: published, unlike: true, want: "ok", count: 1, notices: 1},
			{name: "unlike again", ctx: testenv.As(bob), post: published, unlike: true, want: "ok", count: 1, notices: 1},
			{name: "like once more", ctx: testenv.As(bob), post: published, want: "ok", count: 2, notices: 2},
		} {
			if step.post != nil {
				do := e.s.LikePost
				if step.unlike {
					do = e.s.UnlikePost
				}
				p, err := do(step.ctx, step.post.ID)
				if got := testenv.Outcome(err); got != step.want {
					t.Fatalf("%s: got %s, want %s", step.name, got, step.want)
				}
				if err == nil && p.ID != step.post.ID {
					t.Fatalf("%s: returned post %d, want %d", step.name, p.ID, step.post.ID)
				}
			}
			if n := e.count(t, likes); n != step.count {
				t.Fatalf("%s: like count %d, want %d", step.name, n, step.count)
			}
			testenv.Settle(t, e.q)
			if n := e.notices(t, ada, notification.KindPOST_LIKED); n != step.notices {
				t.Fatalf("%s: ada has %d like notices, want %d", step.name, n, step.notices)
			}
		}
	})
}

// TestFollows: follows are idempotent; a user hears of a new follower once; nobody follows
// themselves or a user who does not exist; both counts show each change at once.
func TestFollows(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		ada, bob := testenv.NewUser(t, db.Client, "ada", ""), testenv.NewUser(t, db.Client, "bob", "")
		followers := func(l *loader.Loaders) (int, error) {
			return l.FollowerCountByUser().Load(context.Background(), ada.ID)
		}
		following := func(l *loader.Loaders) (int, error) {
			return l.FollowingCountByUser().Load(context.Background(), bob.ID)
		}
		for _, step := range []struct {
			name     string
			ctx      context.Context
			unfollow bool
			user     int
			want     string
			count    int // ada's followers and bob's following, after the step
			notices  int // to ada, after the step
		}{
			{name: "before", user: 0, count: 0},
			{name: "follow", ctx: testenv.As(bob), user: ada.ID, want: "ok", count: 1, notices: 1},
			{name: "follow again", ctx: testenv.As(bob), user: ada.ID, want: "ok", count: 1, notices: 1},
			{name: "follow oneself", ctx: testenv.As(bob), user: bob.ID, want: "BAD_USER_INPUT:userID", count: 1, notices: 1},
			{name: "follow nobody", ctx: testenv.As(bob), user: bob.ID + 1000, want: "NOT_FOUND:userID", count: 1, notices: 1},
			{name: "follow signed out", ctx: context.Background(), user: ada.ID, want: "UNAUTHENTICATED", count: 1, notices: 1},
			{name: "unfollow", ctx: testenv.As(bob), user: ada.ID, unfollow: true, want: "ok", count: 0, notices: 1},
			{name: "unfollow again", ctx: testenv.As(bob), user: ada.ID, unfollow: true, want: "ok", count: 0, notices: 1},
		} {
			if step.user != 0 {
				do := e.s.FollowUser
				if step.unfollow {
					do = e.s.UnfollowUser
				}
				u, err := do(step.ctx, step.user)
				if got := testenv.Outcome(err); got != step.want {
					t.Fatalf("%s: got %s, want %s", step.name, got, step.want)
				}
				if err == nil && u.ID != step.user {
					t.Fatalf("%s: returned user %d, want %d", step.name, u.ID, step.user)
				}
			}
			if a, b := e.count(t, followers), e.count(t, following); a != step.count || b != step.count {
				t.Fatalf("%s: ada has %d followers and bob follows %d, want %d", step.name, a, b, step.count)
			}
			testenv.Settle(t, e.q)
			if n := e.notices(t, ada, notification.KindNEW_FOLLOWER); n != step.notices {
				t.Fatalf("%s: ada has %d follower notices, want %d", step.name, n, step.notices)
			}
		}
	})
}
