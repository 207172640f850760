package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/comment"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newService(db *database.DB) (*live.Service, *testenv.Bus) {
	bus := testenv.NewBus()
	return live.New(db.Client, bus, slog.New(slog.NewTextHandler(io.Discard, nil))), bus
}

// TestCommentAdded: a new comment is announced once its transaction commits (the comment can be
// read by then), never when it rolls back; the event carries the comment itself only when a
// signed-out reader may see it.
func TestCommentAdded(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		s, bus := newService(db)
		ada := testenv.NewUser(t, db.Client, "ada", "")
		published, draft := testenv.NewPost(t, db.Client, ada, "Published", true), testenv.NewPost(t, db.Client, ada, "Draft", false)
		errRollback := errors.New("roll back")
		for _, tc := range []struct {
			name     string
			post     *ent.Post
			rollback bool
			public   bool // the event carries the comment
		}{
			{name: "on a published post", post: published, public: true},
			{name: "on a draft", post: draft},
			{name: "rolled back", post: published, rollback: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var c *ent.Comment
				committed := false
				bus.OnPublish = func(testenv.Event) {
					committed, _ = db.Client.Comment.Query().Where(comment.ID(c.ID)).Exist(testenv.System)
				}
				err := database.InTx(testenv.As(ada), db.Client, func(ctx context.Context, tx *ent.Tx) (err error) {
					if c, err = tx.Comment.Create().SetAuthorID(ada.ID).SetPostID(tc.post.ID).SetBody("hello").Save(ctx); err != nil {
						return err
					}
					s.CommentAdded(ctx, tc.post.ID, c.ID)
					if len(bus.Take()) > 0 {
						t.Error("announced before the commit")
					}
					if tc.rollback {
						return errRollback
					}
					return nil
				})
				if err != nil && !errors.Is(err, errRollback) {
					t.Fatal(err)
				}
				events := bus.Take()
				if tc.rollback {
					if len(events) > 0 {
						t.Fatalf("a rolled-back comment was announced: %q", testenv.Topics(events))
					}
					return
				}
				if want := []string{"comments:" + strconv.Itoa(tc.post.ID)}; !slices.Equal(testenv.Topics(events), want) {
					t.Fatalf("events %q, want %q", testenv.Topics(events), want)
				}
				if !committed {
					t.Fatal("announced a comment other connections could not read yet")
				}
				var e struct {
					ID     int
					Public *struct{ Body string }
				}
				if err := json.Unmarshal(events[0].Payload, &e); err != nil {
					t.Fatal(err)
				}
				if e.ID != c.ID || (e.Public != nil) != tc.public || e.Public != nil && e.Public.Body != "hello" {
					t.Fatalf("event %s: want comment %d, public %t", events[0].Payload, c.ID, tc.public)
				}
			})
		}
	})
}

// TestStreams: a subscription starts only on what its viewer may see, and delivers only the
// entities its viewer may see, in order.
func TestStreams(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		s, _ := newService(db)
		ada, bob, mod := testenv.NewUser(t, db.Client, "ada", ""), testenv.NewUser(t, db.Client, "bob", ""), testenv.NewUser(t, db.Client, "mod", auth.RoleModerator)
		published, draft := testenv.NewPost(t, db.Client, ada, "Published", true), testenv.NewPost(t, db.Client, ada, "Draft", false)
		conv, err := db.Client.Conversation.Create().SetPair("ada:bob").AddParticipants(ada, bob).SetCreatedAt(time.Now()).SetLastMessageAt(time.Now()).Save(testenv.System)
		if err != nil {
			t.Fatal(err)
		}
		newComment := func(hidden bool) int {
			create := db.Client.Comment.Create().SetAuthorID(bob.ID).SetPostID(published.ID).SetBody("hi")
			if hidden {
				create.SetHiddenAt(time.Now())
			}
			c, err := create.Save(testenv.System)
			if err != nil {
				t.Fatal(err)
			}
			return c.ID
		}
		newMessage := func() int {
			m, err := db.Client.Message.Create().SetConversationID(conv.ID).SetSenderID(bob.ID).SetBody("hi").SetCreatedAt(time.Now()).Save(testenv.System)
			if err != nil {
				t.Fatal(err)
			}
			return m.ID
		}
		newNotice := func(to *ent.User) int {
			n, err := db.Client.Notification.Create().SetKind(notification.KindNEW_FOLLOWER).SetRecipientID(to.ID).SetActorID(bob.ID).Save(testenv.System)
			if err != nil {
				t.Fatal(err)
			}
			return n.ID
		}
		for _, tc := range []struct {
			name  string
			ctx   context.Context
			start func(ctx context.Context) (<-chan int, error)
			send  func() []int // announces entities, returns those the viewer should get
			want  string
		}{
			{name: "comments, signed out", ctx: context.Background(),
				start: func(ctx context.Context) (<-chan int, error) { return ids(s.Comments(ctx, published.ID)) },
				send: func() []int {
					hidden, shown := newComment(true), newComment(false)
					s.CommentAdded(context.Background(), published.ID, hidden)
					s.CommentAdded(context.Background(), published.ID, shown)
					return []int{shown}
				}, want: "ok"},
			{name: "comments, moderator", ctx: testenv.As(mod),
				start: func(ctx context.Context) (<-chan int, error) { return ids(s.Comments(ctx, published.ID)) },
				send: func() []int {
					hidden := newComment(true)
					s.CommentAdded(context.Background(), published.ID, hidden)
					return []int{hidden}
				}, want: "ok"},
			{name: "comments on someone's draft", ctx: testenv.As(bob),
				start: func(ctx context.Context) (<-chan int, error) { return ids(s.Comments(ctx, draft.ID)) },
				want:  "NOT_FOUND:postID"},
			{name: "messages of one's conversation", ctx: testenv.As(ada),
				start: func(ctx context.Context) (<-chan int, error) { return ids(s.Messages(ctx, conv.ID)) },
				send: func() []int {
					m := newMessage()
					s.MessageAdded(context.Background(), conv.ID, m)
					return []int{m}
				}, want: "ok"},
			{name: "messages of someone else's conversation", ctx: testenv.As(mod),
				start: func(ctx context.Context) (<-chan int, error) { return ids(s.Messages(ctx, conv.ID)) },
				want:  "NOT_FOUND:conversationID"},
			{name: "notifications", ctx: testenv.As(ada),
				start: func(ctx context.Context) (<-chan int, error) { return ids(s.Notifications(ctx)) },
				send: func() []int {
					theirs, mine := newNotice(bob), newNotice(ada)
					s.NotificationAdded(context.Background(), ada.ID, theirs) // misaddressed: not hers to see
					s.NotificationAdded(context.Background(), ada.ID, mine)
					return []int{mine}
				}, want: "ok"},
			{name: "notifications, signed out", ctx: context.Background(),
				start: func(ctx context.Context) (<-chan int, error) { return ids(s.Notifications(ctx)) },
				want:  "UNAUTHENTICATED"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(tc.ctx)
				defer cancel()
				got, err := tc.start(ctx)
				if o := testenv.Outcome(err); o != tc.want {
					t.Fatalf("subscribing: %s, want %s", o, tc.want)
				}
				if err != nil {
					return
				}
				for _, want := range tc.send() {
					select {
					case id := <-got:
						if id != want {
							t.Fatalf("received %d, want %d", id, want)
						}
					case <-time.After(10 * time.Second): // a guard against hanging, not a speed check
						t.Fatalf("nothing received, want %d", want)
					}
				}
			})
		}
	})
}

// ids maps a stream of entities to their IDs.
func ids[T any](ch <-chan *T, err error) (<-chan int, error) {
	if err != nil {
		return nil, err
	}
	out := make(chan int)
	go func() {
		defer close(out)
		for v := range ch {
			switch e := any(v).(type) {
			case *ent.Comment:
				out <- e.ID
			case *ent.Message:
				out <- e.ID
			case *ent.Notification:
				out <- e.ID
			}
		}
	}()
	return out, nil
}
