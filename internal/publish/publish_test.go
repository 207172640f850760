package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/comment"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/publish"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is the service as the app wires it: the loader's cache watching the client.
type env struct {
	db    *database.DB
	s     *publish.Service
	bus   *testenv.Bus
	cache *loader.Cache
	q     *jobs.Queue // notices are its jobs
}

func newEnv(t testing.TB, db *database.DB) *env {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := testenv.NewBus()
	events := live.New(db.Client, bus, log)
	c := loader.NewCache(cache.NewMemoryStore(1000))
	c.Watch(db.Client)
	q := testenv.NewQueue(db)
	defer testenv.StartQueue(t, q) // once the services registered their workers
	return &env{db: db, s: publish.New(db.Client, events, notify.New(db.Client, events, q, log)), bus: bus, cache: c, q: q}
}

// TestWhoChangesPosts: authors change their posts, moderators hide and delete anyone's, nobody
// else changes anything — and a ban takes the right to write away.
func TestWhoChangesPosts(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		ada, bob := testenv.NewUser(t, db.Client, "ada", ""), testenv.NewUser(t, db.Client, "bob", "")
		mod := testenv.NewUser(t, db.Client, "mod", auth.RoleModerator)
		banned := auth.WithViewer(context.Background(), auth.Viewer{UserID: ada.ID, Role: auth.RoleUser, Banned: true})
		title := "Changed"
		ops := map[string]func(ctx context.Context, id int) error{
			"update": func(ctx context.Context, id int) error {
				_, err := e.s.UpdatePost(ctx, publish.UpdatePostInput{ID: id, Title: &title})
				return err
			},
			"publish": func(ctx context.Context, id int) error { _, err := e.s.PublishPost(ctx, id); return err },
			"delete":  func(ctx context.Context, id int) error { return e.s.DeletePost(ctx, id) },
			"hide":    func(ctx context.Context, id int) error { _, err := e.s.SetPostHidden(ctx, id, true); return err },
		}
		for _, tc := range []struct {
			op, who string
			ctx     context.Context
			draft   bool
			want    string
		}{
			{"update", "author", testenv.As(ada), false, "ok"},
			{"update", "another user", testenv.As(bob), false, "FORBIDDEN"},
			{"update", "a moderator", testenv.As(mod), false, "FORBIDDEN"},
			{"update", "a banned author", banned, false, "denied"},
			{"update", "nobody", context.Background(), false, "UNAUTHENTICATED"},
			{"publish", "author", testenv.As(ada), true, "ok"},
			{"publish", "another user", testenv.As(bob), true, "NOT_FOUND"}, // a draft is its author's alone
			{"delete", "author", testenv.As(ada), false, "ok"},
			{"delete", "another user", testenv.As(bob), false, "FORBIDDEN"},
			{"delete", "a moderator", testenv.As(mod), false, "ok"},
			{"hide", "author", testenv.As(ada), false, "FORBIDDEN"},
			{"hide", "a moderator", testenv.As(mod), false, "ok"},
		} {
			t.Run(tc.op+" by "+tc.who, func(t *testing.T) {
				p := testenv.NewPost(t, db.Client, ada, "Original", !tc.draft)
				err := ops[tc.op](tc.ctx, p.ID)
				if got := testenv.Outcome(err); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
				after, err := db.Client.Post.Query().Where(post.ID(p.ID)).Only(testenv.System)
				if ent.IsNotFound(err) {
					after = nil
				} else if err != nil {
					t.Fatal(err)
				}
				changed := after == nil || after.Title != p.Title || after.Status != p.Status || (after.HiddenAt != nil) != (p.HiddenAt != nil)
				if changed != (tc.want == "ok") {
					t.Fatalf("outcome %s, but the post changed: %t", tc.want, changed)
				}
			})
		}
	})
}

// TestCreatePost: input is checked and normalized; a post is a draft unless published.
func TestCreatePost(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		ada := testenv.NewUser(t, db.Client, "ada", "")
		yes, long := true, strings.Repeat("x", 100_001)
		for _, tc := range []struct {
			name   string
			ctx    context.Context
			in     publish.CreatePostInput
			want   string
			status post.Status
			tags   []string
		}{
			{name: "draft", ctx: testenv.As(ada), in: publish.CreatePostInput{Title: "  Hello  ", Tags: []string{"Go", "go", "#Go Lang"}},
				want: "ok", status: post.StatusDRAFT, tags: []string{"go", "go-lang"}},
			{name: "published", ctx: testenv.As(ada), in: publish.CreatePostInput{Title: "Hello", Publish: &yes}, want: "ok", status: post.StatusPUBLISHED},
			{name: "empty title", ctx: testenv.As(ada), in: publish.CreatePostInput{Title: "  "}, want: "BAD_USER_INPUT:title"},
			{name: "body too long", ctx: testenv.As(ada), in: publish.CreatePostInput{Title: "Hello", Body: &long}, want: "BAD_USER_INPUT:body"},
			{name: "too many tags", ctx: testenv.As(ada), in: publish.CreatePostInput{Title: "Hello", Tags: strings.Split("a b c d e f g h i j k", " ")}, want: "BAD_USER_INPUT:tags"},
			{name: "signed out", ctx: context.Background(), in: publish.CreatePostInput{Title: "Hello"}, want: "UNAUTHENTICATED"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p, err := e.s.CreatePost(tc.ctx, tc.in)
				if got := testenv.Outcome(err); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
				if err != nil {
					return
				}
				stored, err := db.Client.Post.Query().Where(post.ID(p.ID)).WithTags().Only(testenv.System)
				if err != nil {
					t.Fatal(err)
				}
				var tags []string
				for _, tg := range stored.Edges.Tags {
					tags = append(tags, tg.Name)
				}
				slices.Sort(tags)
				if stored.Title != strings.TrimSpace(tc.in.Title) || stored.Status != tc.status || stored.AuthorID != ada.ID || !slices.Equal(tags, tc.tags) {
					t.Fatalf("stored %q %s by %d with tags %q", stored.Title, stored.Status, stored.AuthorID, tags)
				}
				if p.Title != stored.Title || p.Status != stored.Status {
					t.Fatalf("returned %q %s, stored %q %s", p.Title, p.Status, stored.Title, stored.Status)
				}
			})
		}
	})
}

// TestPostWritesShowAtOnce: every committed write of a post shows at once to a signed-out reader
// through the loaders' cache — the post, its tags and their post counts — and a write rolled back
// after its statements ran shows nothing and leaves the cache as it was.
func TestPostWritesShowAtOnce(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		ada, mod := testenv.NewUser(t, db.Client, "ada", ""), testenv.NewUser(t, db.Client, "mod", auth.RoleModerator)
		errInjected := errors.New("injected")
		type failKey struct{}
		db.Client.Post.Use(func(next ent.Mutator) ent.Mutator { // fails a post write after it ran, on demand
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				v, err := next.Mutate(ctx, m)
				if err == nil && ctx.Value(failKey{}) != nil {
					return nil, errInjected
				}
				return v, err
			})
		})
		failing := func(ctx context.Context) context.Context { return context.WithValue(ctx, failKey{}, true) }

		p, err := e.s.CreatePost(testenv.As(ada), publish.CreatePostInput{Title: "Draft", Tags: []string{"go"}})
		if err != nil {
			t.Fatal(err)
		}
		tagID := func(name string) int {
			id, err := db.Client.Tag.Query().Where(tag.Name(name)).OnlyID(testenv.System)
			if ent.IsNotFound(err) {
				return 0
			}
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		// seen is what a signed-out reader sees: the post's title, and the tags (name=count) it can see.
		seen := func() string {
			t.Helper()
			ctx := context.Background()
			l := loader.New(db.Client, e.cache, auth.Viewer{}, nil)
			out := "no post"
			if got, err := l.PostByID().Load(ctx, p.ID); err != nil {
				t.Fatal(err)
			} else if got != nil {
				out = got.Title
			}
			for _, name := range []string{"go", "rust"} {
				id := tagID(name)
				if id == 0 {
					continue
				}
				tg, err := l.TagByID().Load(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				n, err := l.PostCountByTag().Load(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if tg != nil {
					out += fmt.Sprintf(" %s=%d", name, n)
				} else if n != 0 {
					t.Fatalf("tag %s is hidden but counts %d posts", name, n)
				}
			}
			return out
		}
		rust, edited := []string{"rust"}, "Edited"
		for _, step := range []struct {
			name  string
			write func() error
			want  string
		}{
			{"a draft", func() error { return nil }, "no post"},
			{"published", func() error { _, err := e.s.PublishPost(testenv.As(ada), p.ID); return err }, "Draft go=1"},
			{"retitled", func() error {
				_, err := e.s.UpdatePost(testenv.As(ada), publish.UpdatePostInput{ID: p.ID, Title: &edited})
				return err
			}, "Edited go=1"},
			{"retagged, rolled back", func() error {
				_, err := e.s.UpdatePost(failing(testenv.As(ada)), publish.UpdatePostInput{ID: p.ID, Tags: rust})
				if !errors.Is(err, errInjected) {
					return fmt.Errorf("want the injected error, got %v", err)
				}
				return nil
			}, "Edited go=1"},
			{"retagged", func() error {
				_, err := e.s.UpdatePost(testenv.As(ada), publish.UpdatePostInput{ID: p.ID, Tags: rust})
				return err
			}, "Edited rust=1"},
			{"hidden", func() error { _, err := e.s.SetPostHidden(testenv.As(mod), p.ID, true); return err }, "no post"},
			{"shown", func() error { _, err := e.s.SetPostHidden(testenv.As(mod), p.ID, false); return err }, "Edited rust=1"},
			{"deleted", func() error { return e.s.DeletePost(testenv.As(ada), p.ID) }, "no post"},
		} {
			if err := step.write(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			for range 2 { // as read, then as cached
				if got := seen(); got != step.want {
					t.Fatalf("%s: a signed-out reader sees %q, want %q", step.name, got, step.want)
				}
			}
		}
		if tagID("rust") == 0 {
			t.Fatal("tag rust was never created")
		}
	})
}

// TestComments: a comment is announced to the post's subscribers and its author notified once it
// is committed; nobody is notified of their own comment; only what the viewer may see can be
// commented on, and only authors and moderators delete comments.
func TestComments(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		ada, bob := testenv.NewUser(t, db.Client, "ada", ""), testenv.NewUser(t, db.Client, "bob", "")
		mod := testenv.NewUser(t, db.Client, "mod", auth.RoleModerator)
		published, draft := testenv.NewPost(t, db.Client, ada, "Published", true), testenv.NewPost(t, db.Client, ada, "Draft", false)
		var committed bool // whether the comment announced could be read when its event left
		e.bus.OnPublish = func(ev testenv.Event) {
			var announced struct{ ID int }
			if strings.HasPrefix(ev.Topic, "comments:") && json.Unmarshal(ev.Payload, &announced) == nil {
				committed, _ = db.Client.Comment.Query().Where(comment.ID(announced.ID)).Exist(testenv.System)
			}
		}
		notices := func(to *ent.User) int {
			n, err := db.Client.Notification.Query().Where(notification.RecipientID(to.ID), notification.KindEQ(notification.KindNEW_COMMENT)).Count(testenv.System)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, tc := range []struct {
			name     string
			ctx      context.Context
			post     *ent.Post
			body     string
			want     string
			notified bool // the post's author
		}{
			{name: "on someone's post", ctx: testenv.As(bob), post: published, body: "Nice", want: "ok", notified: true},
			{name: "on one's own post", ctx: testenv.As(ada), post: published, body: "Thanks", want: "ok"},
			{name: "on one's own draft", ctx: testenv.As(ada), post: draft, body: "Note to self", want: "ok"},
			{name: "on someone's draft", ctx: testenv.As(bob), post: draft, body: "Peek", want: "NOT_FOUND:postID"},
			{name: "empty", ctx: testenv.As(bob), post: published, body: " ", want: "BAD_USER_INPUT:body"},
			{name: "signed out", ctx: context.Background(), post: published, body: "Hi", want: "UNAUTHENTICATED"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := notices(ada)
				c, err := e.s.AddComment(tc.ctx, publish.AddCommentInput{PostID: tc.post.ID, Body: tc.body})
				if got := testenv.Outcome(err); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
				testenv.Settle(t, e.q)
				topics := testenv.Topics(e.bus.Take())
				if err != nil {
					if len(topics) > 0 || notices(ada) != before {
						t.Fatalf("a refused comment was announced (%q) or notified", topics)
					}
					return
				}
				if c.Body != strings.TrimSpace(tc.body) || c.PostID != tc.post.ID {
					t.Fatalf("returned comment %q on %d", c.Body, c.PostID)
				}
				want := []string{"comments:" + strconv.Itoa(tc.post.ID)}
				if tc.notified {
					want = append(want, "notifications:"+strconv.Itoa(ada.ID))
				}
				if !slices.Equal(topics, want) {
					t.Fatalf("events %q, want %q", topics, want)
				}
				if !committed {
					t.Fatal("the comment was announced before it was committed")
				}
				if got := notices(ada) - before; got != map[bool]int{true: 1}[tc.notified] {
					t.Fatalf("%d notices to the post's author", got)
				}
			})
		}

		for _, tc := range []struct {
			who  string
			ctx  context.Context
			want string
		}{
			{"another user", testenv.As(ada), "FORBIDDEN"},
			{"its author", testenv.As(bob), "ok"},
			{"a moderator", testenv.As(mod), "ok"},
		} {
			t.Run("delete by "+tc.who, func(t *testing.T) {
				c, err := db.Client.Comment.Create().SetAuthorID(bob.ID).SetPostID(published.ID).SetBody("Bye").Save(testenv.System)
				if err != nil {
					t.Fatal(err)
				}
				p, err := e.s.DeleteComment(tc.ctx, c.ID)
				if got := testenv.Outcome(err); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
				exists, _ := db.Client.Comment.Query().Where(comment.ID(c.ID)).Exist(testenv.System)
				if exists == (err == nil) {
					t.Fatalf("outcome %s, comment still there: %t", tc.want, exists)
				}
				if err == nil && p.ID != published.ID {
					t.Fatalf("returned post %d, want the comment's post %d", p.ID, published.ID)
				}
			})
		}
	})
}
