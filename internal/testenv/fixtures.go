package testenv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/pubsub"
)

// System is a context past the privacy rules, for writing fixtures and reading back what a write
// really did.
var System = privacy.DecisionContext(context.Background(), privacy.Allow)

// NewUser creates a user of the given role (auth.RoleUser when empty).
func NewUser(t testing.TB, c *ent.Client, username, role string) *ent.User {
	t.Helper()
	create := c.User.Create().SetUsername(username).SetEmail(username + "@example.com").
		SetPasswordHash("not a hash").SetDisplayName(username)
	if role != "" {
		create.SetRole(user.Role(role))
	}
	u, err := create.Save(System)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var slugs atomic.Int64

// NewPost creates a post by author, published or a draft.
func NewPost(t testing.TB, c *ent.Client, author *ent.User, title string, published bool) *ent.Post {
	t.Helper()
	create := c.Post.Create().SetAuthorID(author.ID).SetTitle(title).SetDescription("").SetBody("").
		SetSlug(fmt.Sprintf("post-%d", slugs.Add(1)))
	if published {
		create.SetStatus(post.StatusPUBLISHED).SetPublishedAt(time.Now().UTC())
	}
	p, err := create.Save(System)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// As is a context with u signed in as the viewer.
func As(u *ent.User) context.Context {
	return auth.WithViewer(context.Background(), auth.Viewer{UserID: u.ID, SessionID: 1, Role: u.Role.String(), Banned: u.BannedAt != nil})
}

// Outcome sums up the result of a call for table-driven tests: "ok", the apperr code (with the
// field after a colon, when it names one), "denied" for a privacy rule's refusal, or the error.
func Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	if e, ok := apperr.As(err); ok {
		if e.Field != "" {
			return e.Kind.Code() + ":" + e.Field
		}
		return e.Kind.Code()
	}
	if errors.Is(err, privacy.Deny) {
		return "denied"
	}
	return err.Error()
}

// Bus is an in-process bus that also records what is published, and lets a test look at the
// database at the moment an event leaves (OnPublish).
type Bus struct {
	pubsub.Bus
	OnPublish func(Event) // called as each event is published; set before use

	mu     sync.Mutex
	events []Event
}

// Event is a published event.
type Event struct {
	Topic   string
	Payload []byte
}

// NewBus returns an empty Bus.
func NewBus() *Bus { return &Bus{Bus: pubsub.NewMemory(pubsub.Options{})} }

// Publish implements pubsub.Bus.
func (b *Bus) Publish(ctx context.Context, topic string, payload []byte) error {
	e := Event{Topic: topic, Payload: slices.Clone(payload)}
	if b.OnPublish != nil {
		b.OnPublish(e)
	}
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
	return b.Bus.Publish(ctx, topic, payload)
}

// Take returns the events published since the last Take.
func (b *Bus) Take() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.events
	b.events = nil
	return e
}

// Topics returns the topics of events, in order.
func Topics(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Topic
	}
	return out
}
