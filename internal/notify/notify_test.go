package notify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newService(t testing.TB, db *database.DB) (*notify.Service, *testenv.Bus, *jobs.Queue) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := testenv.NewBus()
	q := testenv.NewQueue(db)
	s := notify.New(db.Client, live.New(db.Client, bus, log), q, log)
	testenv.StartQueue(t, q)
	return s, bus, q
}

// TestNotify: a notice is recorded and announced once the action it tells of has committed — the
// action is visible to everyone by then — and not at all when the action rolls back or when it is
// the recipient's own.
func TestNotify(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		s, bus, q := newService(t, db)
		ada, bob := testenv.NewUser(t, db.Client, "ada", ""), testenv.NewUser(t, db.Client, "bob", "")
		errRollback := errors.New("roll back")
		for i, tc := range []struct {
			name      string
			inTx      bool
			rollback  bool
			recipient *ent.User
			notified  bool
		}{
			{name: "committed action", inTx: true, recipient: ada, notified: true},
			{name: "action outside a transaction", recipient: ada, notified: true},
			{name: "rolled-back action", inTx: true, rollback: true, recipient: ada},
			{name: "own action", inTx: true, recipient: bob},
		} {
			t.Run(tc.name, func(t *testing.T) {
				action := fmt.Sprintf("action%d", i) // a tag stands for the action the notice tells of
				actionSeen := map[string]bool{}
				bus.OnPublish = func(e testenv.Event) {
					ok, err := db.Client.Tag.Query().Where(tag.Name(action)).Exist(testenv.System)
					actionSeen[e.Topic] = ok && err == nil
				}
				before := count(t, db, tc.recipient)
				notice := notify.Notice{Kind: notification.KindNEW_FOLLOWER, Recipient: tc.recipient.ID, Actor: bob.ID}
				act := func(ctx context.Context, c *ent.Client) error {
					if err := c.Tag.Create().SetName(action).Exec(ctx); err != nil {
						return err
					}
					if err := s.Notify(ctx, notice); err != nil {
						return err
					}
					if n := count(t, db, tc.recipient); n != before {
						t.Errorf("notified before the action committed")
					}
					if tc.rollback {
						return errRollback
					}
					return nil
				}
				var err error
				if tc.inTx {
					err = database.InTx(testenv.As(bob), db.Client, func(ctx context.Context, tx *ent.Tx) error {
						return act(ctx, tx.Client())
					})
				} else {
					if err = db.Client.Tag.Create().SetName(action).Exec(testenv.System); err == nil {
						err = s.Notify(testenv.As(bob), notice)
					}
				}
				testenv.Settle(t, q)
				if err != nil && !errors.Is(err, errRollback) {
					t.Fatal(err)
				}
				events := bus.Take()
				added := count(t, db, tc.recipient) - before
				if !tc.notified {
					if added != 0 || len(events) != 0 {
						t.Fatalf("want no notice: %d added, events %q", added, testenv.Topics(events))
					}
					return
				}
				topic := "notifications:" + strconv.Itoa(tc.recipient.ID)
				if added != 1 || !slices.Equal(testenv.Topics(events), []string{topic}) {
					t.Fatalf("want one notice and one event on %s: %d added, events %q", topic, added, testenv.Topics(events))
				}
				if !actionSeen[topic] {
					t.Fatal("the notice was announced before its action was committed")
				}
			})
		}
	})
}

func count(t *testing.T, db *database.DB, recipient *ent.User) int {
	t.Helper()
	n, err := db.Client.Notification.Query().Where(notification.RecipientID(recipient.ID)).Count(testenv.System)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMarkRead: viewers mark their own unread notifications read — those listed, or all — and
// nobody else's; the viewer comes back with the count of those that changed.
func TestMarkRead(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		s, _, _ := newService(t, db)
		for i, tc := range []struct {
			name   string
			anon   bool
			ids    func(mine, theirs []int) []int // nil: all
			want   string
			marked int
			unread int // of ada's three, one of them read before
		}{
			{name: "all", want: "ok", marked: 2, unread: 0},
			{name: "listed", ids: func(mine, _ []int) []int { return mine[:1] }, want: "ok", marked: 1, unread: 1},
			{name: "already read", ids: func(mine, _ []int) []int { return mine[2:] }, want: "ok", marked: 0, unread: 2},
			{name: "someone else's", ids: func(_, theirs []int) []int { return theirs }, want: "ok", marked: 0, unread: 2},
			{name: "signed out", anon: true, want: "UNAUTHENTICATED", unread: 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ada := testenv.NewUser(t, db.Client, fmt.Sprintf("ada%d", i), "")
				bob := testenv.NewUser(t, db.Client, fmt.Sprintf("bob%d", i), "")
				notices := func(to, from *ent.User, readAt ...*time.Time) []int {
					var ids []int
					for _, r := range readAt {
						n, err := db.Client.Notification.Create().SetKind(notification.KindNEW_FOLLOWER).
							SetRecipientID(to.ID).SetActorID(from.ID).SetNillableReadAt(r).Save(testenv.System)
						if err != nil {
							t.Fatal(err)
						}
						ids = append(ids, n.ID)
					}
					return ids
				}
				now := time.Now().UTC()
				mine, theirs := notices(ada, bob, nil, nil, &now), notices(bob, ada, nil)
				in := notify.MarkReadInput{}
				if tc.ids != nil {
					in.IDs = tc.ids(mine, theirs)
				}
				ctx := testenv.As(ada)
				if tc.anon {
					ctx = context.Background()
				}
				viewer, n, err := s.MarkRead(ctx, in)
				if got := testenv.Outcome(err); got != tc.want || n != tc.marked {
					t.Fatalf("got %s marking %d, want %s marking %d", got, n, tc.want, tc.marked)
				}
				if err == nil && viewer.ID != ada.ID {
					t.Fatalf("the payload's viewer is user %d, not ada", viewer.ID)
				}
				if unread, err := s.UnreadCount(testenv.As(ada), ada.ID); err != nil || unread != tc.unread {
					t.Fatalf("ada's unread count: %d (%v), want %d", unread, err, tc.unread)
				}
				if unread, err := s.UnreadCount(testenv.As(bob), bob.ID); err != nil || unread != 1 {
					t.Fatalf("bob's unread count: %d (%v), want 1", unread, err)
				}
			})
		}
	})
}
