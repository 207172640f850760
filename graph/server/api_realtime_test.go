package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/agora/agora/internal/config"
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
	rdb := newRedis(t)
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
			// The second message's notice is a job: announced before the next transport subscribes.
			a.settle(t)
			b.settle(t)
		})
	}
}

// TestSubscriptionPrivacy: what reaches a subscriber is what its viewer may see, checked per event;
// sockets with a bad token are refused, and a socket whose session ends is closed with a reason.
func TestSubscriptionPrivacy(t *testing.T) {
	a := newAPI(t, "sqlite")
	ada, bob, mod := a.register(t, "ada"), a.register(t, "bob"), a.register(t, "mod")
	a.setRole(t, mod, "MODERATOR")
	p := a.createPost(t, ada, map[string]any{"title": "Soon hidden", "publish": true})
	draft := a.createPost(t, ada, map[string]any{"title": "Draft"})
	const comments = `subscription($id: ID!) { commentAdded(postID: $id) { body } }`
	comment := func(u user, body string) {
		a.as(u).Do(t, `mutation($id: ID!, $b: String!) { addComment(input: {postID: $id, body: $b}) { comment { id } } }`, map[string]any{"id": p.ID, "b": body}, nil)
	}

	// Other people's drafts and conversations cannot be subscribed to.
	if r, _ := a.subscribe(t, a.as(bob), testenv.TransportWS, comments, map[string]any{"id": draft.ID}).Next(t, wait); len(r.Errors) != 1 || r.Errors[0].Code() != "NOT_FOUND" {
		t.Fatalf("commentAdded on someone else's draft: %+v", r.Errors)
	}
	var sent struct {
		SendMessage struct{ Conversation struct{ ID string } }
	}
	a.as(ada).Do(t, `mutation($to: ID!) { sendMessage(input: {recipientID: $to, body: "hi"}) { conversation { id } } }`, map[string]any{"to": mod.ID}, &sent)
	if r, _ := a.subscribe(t, a.as(bob), testenv.TransportSSE, `subscription($id: ID!) { messageAdded(conversationID: $id) { body } }`,
		map[string]any{"id": sent.SendMessage.Conversation.ID}).Next(t, wait); len(r.Errors) != 1 || r.Errors[0].Code() != "NOT_FOUND" {
		t.Fatalf("messageAdded on someone else's conversation: %+v", r.Errors)
	}
	if r, _ := a.subscribe(t, a.GraphQL, testenv.TransportLegacyWS, `subscription { notificationAdded { kind } }`, nil).Next(t, wait); len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
		t.Fatalf("notificationAdded signed out: %+v", r.Errors)
	}

	// Once the post is hidden, new comments reach its author and moderators only.
	public := a.subscribe(t, a.GraphQL, testenv.TransportWS, comments, map[string]any{"id": p.ID})
	moderator := a.subscribe(t, a.as(mod), testenv.TransportWS, comments, map[string]any{"id": p.ID})
	comment(bob, "before")
	for _, s := range []*testenv.Stream{public, moderator} {
		if r, _ := s.Next(t, wait); string(r.Data) != `{"commentAdded":{"body":"before"}}` {
			t.Fatalf("before hiding: %s %+v", r.Data, r.Errors)
		}
	}
	a.as(mod).Do(t, `mutation($id: ID!) { hidePost(input: {id: $id}) { post { id } } }`, map[string]any{"id": p.ID}, nil)
	comment(ada, "after")
	if r, _ := moderator.Next(t, wait); string(r.Data) != `{"commentAdded":{"body":"after"}}` {
		t.Fatalf("a moderator after hiding: %s %+v", r.Data, r.Errors)
	}
	a.as(mod).Do(t, `mutation($id: ID!) { unhidePost(input: {id: $id}) { post { id } } }`, map[string]any{"id": p.ID}, nil)
	comment(bob, "unhidden")
	if r, _ := public.Next(t, wait); string(r.Data) != `{"commentAdded":{"body":"unhidden"}}` {
		t.Fatalf("signed out, after hiding and unhiding: want only the comment made while visible, got %s %+v", r.Data, r.Errors)
	}

	// A bad token is refused at connection_init; a socket whose session ends is closed.
	for _, tr := range []string{testenv.TransportWS, testenv.TransportLegacyWS} {
		_, err := a.As("not-a-token").TrySubscribe(t, tr, comments, map[string]any{"id": p.ID})
		if code := websocket.CloseStatus(err); code != 4401 {
			t.Fatalf("%s with a bad token: want close 4401, got %v", tr, err)
		}
	}
	session := a.login(t, bob.Username).AccessToken
	s := a.subscribe(t, a.As(session), testenv.TransportWS, `subscription { notificationAdded { kind } }`, nil)
	a.As(session).Do(t, `mutation { logout { sessionID } }`, nil, nil)
	select {
	case <-s.Done():
	case <-time.After(wait):
		t.Fatal("the socket stayed open after its session ended")
	}
	if s.CloseCode != 4401 || !strings.Contains(s.CloseReason, "session ended") {
		t.Fatalf("after logout: closed with %d %q, want 4401 and a reason", s.CloseCode, s.CloseReason)
	}
}

// TestSubscriptionCap: one connection runs at most AGORA_MAX_SUBSCRIPTIONS (5 in tests) at once.
func TestSubscriptionCap(t *testing.T) {
	a := newAPI(t, "sqlite")
	ada := a.register(t, "ada")
	p := a.createPost(t, ada, map[string]any{"title": "Busy", "publish": true})
	ctx, cancel := context.WithTimeout(t.Context(), wait) // a guard against hanging, not a speed check
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.URL, "http"), &websocket.DialOptions{Subprotocols: []string{testenv.TransportWS}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	type frame struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	send := func(f frame) {
		if err := wsjson.Write(ctx, conn, f); err != nil {
			t.Fatal(err)
		}
	}
	send(frame{Type: "connection_init"})
	op, _ := json.Marshal(map[string]any{"query": `subscription($id: ID!) { commentAdded(postID: $id) { body } }`, "variables": map[string]any{"id": p.ID}})
	for i := 1; i <= 6; i++ {
		send(frame{ID: strconv.Itoa(i), Type: "subscribe", Payload: op})
	}
	// The server starts them concurrently: any one of the six is the one refused.
	var refused string
	for refused == "" {
		var f frame
		if err := wsjson.Read(ctx, conn, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type != "next" && f.Type != "error" {
			continue
		}
		if !strings.Contains(string(f.Payload), `"RATE_LIMITED"`) {
			t.Fatalf("want a subscription refused with RATE_LIMITED, got %s %s: %s", f.Type, f.ID, f.Payload)
		}
		refused = f.ID
	}
	// The other five run, once all have subscribed (an event published before would miss them).
	for a.live.Stats().Active < 5 {
		if ctx.Err() != nil {
			t.Fatalf("%d of 5 subscriptions started within %v", a.live.Stats().Active, wait)
		}
		time.Sleep(time.Millisecond)
	}
	a.as(ada).Do(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "x"}) { comment { id } } }`, map[string]any{"id": p.ID}, nil)
	got := map[string]bool{}
	for len(got) < 5 {
		var f frame
		if err := wsjson.Read(ctx, conn, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type == "next" {
			got[f.ID] = true
		}
	}
	if got[refused] {
		t.Fatalf("the refused subscription %s received an event: %v", refused, got)
	}
}

// TestSubscriptionsLeakNothing: after subscribers come and go, on every transport, the server is
// back to the goroutines it had.
func TestSubscriptionsLeakNothing(t *testing.T) {
	db := openDB(t, database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	// No job workers: their goroutines come and go on their own schedule (the comment notifies
	// nobody: it is the author's own).
	a := startAPIWith(t, db, nil, func(cfg *config.Config) { cfg.Jobs.Workers = false })
	ada := a.register(t, "ada")
	p := a.createPost(t, ada, map[string]any{"title": "Crowded", "publish": true})
	a.Do(t, `{ __typename }`, nil, nil)
	http.DefaultClient.CloseIdleConnections()
	baseline := runtime.NumGoroutine()

	var streams []*testenv.Stream
	for i := range 30 {
		tr := testenv.Transports[i%len(testenv.Transports)]
		streams = append(streams, a.subscribe(t, a.as(ada), tr, `subscription($id: ID!) { commentAdded(postID: $id) { body } }`, map[string]any{"id": p.ID}))
	}
	a.as(ada).Do(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "to all"}) { comment { id } } }`, map[string]any{"id": p.ID}, nil)
	for _, s := range streams {
		if r, _ := s.Next(t, wait); string(r.Data) != `{"commentAdded":{"body":"to all"}}` {
			t.Fatalf("event: %s %+v", r.Data, r.Errors)
		}
		s.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	giveUp := time.Now().Add(wait) // a guard against hanging, not a speed check
	for a.live.Stats().Active > 0 || runtime.NumGoroutine() > baseline {
		if time.Now().After(giveUp) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the subscribers (%d subscriptions active):\n%s",
				runtime.NumGoroutine(), baseline, a.live.Stats().Active, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSocketOrigins: browsers on other sites may open sockets only from AGORA_ALLOWED_ORIGINS.
func TestSocketOrigins(t *testing.T) {
	db := openDB(t, database.Options{SQLitePath: t.TempDir() + "/agora.db"})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPIWith(t, db, nil, func(c *config.Config) { c.HTTP.AllowedOrigins = []string{"app.example.com"} })
	url := "ws" + strings.TrimPrefix(a.URL, "http")
	for origin, want := range map[string]int{
		"":                         http.StatusSwitchingProtocols, // not a browser
		"https://app.example.com":  http.StatusSwitchingProtocols,
		"https://evil.example.com": http.StatusForbidden,
	} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		conn, res, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{Subprotocols: []string{testenv.TransportWS}, HTTPHeader: h})
		if conn != nil {
			conn.CloseNow()
		}
		if res == nil || res.StatusCode != want {
			t.Errorf("origin %q: want %d, got %v (%v)", origin, want, res, err)
		}
	}
}
