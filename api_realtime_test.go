package main

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

const wait = 10 * time.Second // a guard against hanging, not a speed check

// subscribe starts a subscription through c on a, and returns once a has subscribed it to its
// events or answered (a refusal), so an event triggered next cannot be missed.
func (a *api) subscribe(t *testing.T, c testenv.GraphQL, transport, query string, vars map[string]any) *testenv.Stream {
	t.Helper()
	before := a.live.Stats().Started
	s := c.Subscribe(t, transport, query, vars)
	giveUp := time.Now().Add(wait)
	for a.live.Stats().Started == before && !s.Pending() {
		if time.Now().After(giveUp) {
			t.Fatalf("the subscription did not start within %v", wait)
		}
		time.Sleep(time.Millisecond)
	}
	return s
}

// twoReplicas starts two Agora instances on one PostgreSQL and one Redis.
func twoReplicas(t *testing.T) (a, b *api) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	pg := testenv.PostgresURL(t)
	first := openDB(t, database.Options{PostgresURL: pg})
	if _, err := first.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return startAPI(t, first, rdb), startAPI(t, openDB(t, database.Options{PostgresURL: pg}), rdb)
}

// TestSubscriptionsAcrossReplicas: a subscriber on replica A receives the events of writes on
// replica B, on every transport.
func TestSubscriptionsAcrossReplicas(t *testing.T) {
	a, b := twoReplicas(t)
	ada, bob := a.register(t, "ada"), a.register(t, "bob")
	p := a.createPost(t, ada, map[string]any{"title": "Live", "publish": true})

	for _, tr := range testenv.Transports {
		t.Run(tr, func(t *testing.T) {
			comments := a.subscribe(t, a.GraphQL, tr, `subscription($id: ID!) { commentAdded(postID: $id) { body author { username } post { title } } }`, map[string]any{"id": p.ID})
			notes := a.subscribe(t, a.as(ada), tr, `subscription { notificationAdded { kind actor { username } post { title } comment { body } } }`, nil)

			b.as(bob).Do(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "hello from B"}) { comment { id } } }`, map[string]any{"id": p.ID}, nil)

			r, ok := comments.Next(t, wait)
			if !ok || len(r.Errors) > 0 || string(r.Data) != `{"commentAdded":{"body":"hello from B","author":{"username":"bob"},"post":{"title":"Live"}}}` {
				t.Fatalf("commentAdded on A after a comment on B: %s %+v (ok %t, ended %v)", r.Data, r.Errors, ok, comments.Err())
			}
			r, ok = notes.Next(t, wait)
			if !ok || len(r.Errors) > 0 || string(r.Data) != `{"notificationAdded":{"kind":"NEW_COMMENT","actor":{"username":"bob"},"post":{"title":"Live"},"comment":{"body":"hello from B"}}}` {
				t.Fatalf("notificationAdded on A after a comment on B: %s %+v", r.Data, r.Errors)
			}

			var sent struct {
				SendMessage struct{ Conversation struct{ ID string } }
			}
			b.as(bob).Do(t, `mutation($to: ID!) { sendMessage(input: {recipientID: $to, body: "first"}) { conversation { id } } }`, map[string]any{"to": ada.ID}, &sent)
			if r, _ := notes.Next(t, wait); string(r.Data) != `{"notificationAdded":{"kind":"NEW_MESSAGE","actor":{"username":"bob"},"post":null,"comment":null}}` {
				t.Fatalf("notificationAdded after a message: %s %+v (ended: %v, close %d %q)", r.Data, r.Errors, notes.Err(), notes.CloseCode, notes.CloseReason)
			}
			messages := a.subscribe(t, a.as(ada), tr, `subscription($id: ID!) { messageAdded(conversationID: $id) { body sender { username } } }`, map[string]any{"id": sent.SendMessage.Conversation.ID})
			b.as(bob).Do(t, `mutation($to: ID!) { sendMessage(input: {recipientID: $to, body: "second"}) { message { id } } }`, map[string]any{"to": ada.ID}, nil)
			if r, _ := messages.Next(t, wait); string(r.Data) != `{"messageAdded":{"body":"second","sender":{"username":"bob"}}}` {
				t.Fatalf("messageAdded on A after a message on B: %s %+v", r.Data, r.Errors)
			}
		})
	}
}
