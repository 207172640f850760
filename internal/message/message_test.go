package message_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agora/agora/ent/message"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/live"
	msg "github.com/agora/agora/internal/message"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/ratelimit"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestSend: a message starts the pair's conversation or continues it, and once committed it is
// announced in the conversation and its recipient notified; bad input and spam change nothing.
func TestSend(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		bus := testenv.NewBus()
		events := live.New(db.Client, bus, log)
		q := testenv.NewQueue(db)
		notices := notify.New(db.Client, events, q, log)
		testenv.StartQueue(t, q)
		s := msg.New(db.Client, events, notices, ratelimit.NewMemory(), ratelimit.Limit{Burst: 4, Per: time.Hour})
		ada, bob, carol := testenv.NewUser(t, db.Client, "ada", ""), testenv.NewUser(t, db.Client, "bob", ""), testenv.NewUser(t, db.Client, "carol", "")
		var committed bool // whether the message announced could be read when its event left
		bus.OnPublish = func(ev testenv.Event) {
			var announced struct{ ID int }
			if strings.HasPrefix(ev.Topic, "messages:") && json.Unmarshal(ev.Payload, &announced) == nil {
				committed, _ = db.Client.Message.Query().Where(message.ID(announced.ID)).Exist(testenv.System)
			}
		}
		conversations := map[string]int{} // by the pair's names, as the steps find them
		for _, step := range []struct {
			name     string
			ctx      context.Context
			to       int
			body     string
			want     string
			pair     string // names the conversation it goes to
			newConv  bool
			notified int // the recipient, in all
		}{
			{name: "first message", ctx: testenv.As(ada), to: bob.ID, body: " Hi ", want: "ok", pair: "ada-bob", newConv: true, notified: 1},
			{name: "reply", ctx: testenv.As(bob), to: ada.ID, body: "Hello", want: "ok", pair: "ada-bob", notified: 1},
			{name: "another pair", ctx: testenv.As(ada), to: carol.ID, body: "Hi", want: "ok", pair: "ada-carol", newConv: true, notified: 1},
			{name: "to oneself", ctx: testenv.As(ada), to: ada.ID, body: "Hi", want: "BAD_USER_INPUT:recipientID"},
			{name: "to nobody", ctx: testenv.As(ada), to: carol.ID + 1000, body: "Hi", want: "NOT_FOUND:recipientID"},
			{name: "empty", ctx: testenv.As(ada), to: bob.ID, body: " ", want: "BAD_USER_INPUT:body"},
			{name: "signed out", ctx: context.Background(), to: bob.ID, body: "Hi", want: "UNAUTHENTICATED"},
			{name: "within the limit", ctx: testenv.As(ada), to: bob.ID, body: "Again", want: "ok", pair: "ada-bob", notified: 2},
			{name: "over the limit", ctx: testenv.As(ada), to: bob.ID, body: "Spam", want: "RATE_LIMITED"},
		} {
			t.Run(step.name, func(t *testing.T) {
				m, c, err := s.Send(step.ctx, msg.SendInput{RecipientID: step.to, Body: step.body})
				if got := testenv.Outcome(err); got != step.want {
					t.Fatalf("got %s, want %s", got, step.want)
				}
				testenv.Settle(t, q) // the notice is a job
				topics := testenv.Topics(bus.Take())
				if err != nil {
					if len(topics) > 0 {
						t.Fatalf("a refused message was announced: %q", topics)
					}
					return
				}
				if id, ok := conversations[step.pair]; ok == step.newConv || ok && id != c.ID {
					t.Fatalf("conversation %d; the pair's before: %d (%t)", c.ID, id, ok)
				}
				conversations[step.pair] = c.ID
				if m.Body != strings.TrimSpace(step.body) || m.ConversationID != c.ID || !c.LastMessageAt.Truncate(time.Microsecond).Equal(m.CreatedAt.Truncate(time.Microsecond)) {
					t.Fatalf("message %q in %d at %v; conversation %d last at %v", m.Body, m.ConversationID, m.CreatedAt, c.ID, c.LastMessageAt)
				}
				// The notice's job may run before the message's own event goes out: two channels,
				// in no promised order.
				want := []string{"messages:" + strconv.Itoa(c.ID), "notifications:" + strconv.Itoa(step.to)}
				if slices.Sort(topics); !slices.Equal(topics, want) {
					t.Fatalf("events %q, want %q", topics, want)
				}
				if !committed {
					t.Fatal("the message was announced before it was committed")
				}
				n, err := db.Client.Notification.Query().Where(notification.RecipientID(step.to), notification.KindEQ(notification.KindNEW_MESSAGE)).Count(testenv.System)
				if err != nil || n != step.notified {
					t.Fatalf("the recipient has %d message notices (%v), want %d", n, err, step.notified)
				}
			})
		}
	})
}
