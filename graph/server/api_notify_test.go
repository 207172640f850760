package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agora/agora/internal/testenv"
)

// TestNotifications: follows, comments and likes notify the user they concern, never the actor
// themselves; users read and mark their own.
func TestNotifications(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada, bob := a.register(t, "ada"), a.register(t, "bob")
		p := a.createPost(t, ada, map[string]any{"title": "Noticed", "publish": true})
		like := `mutation($id: ID!) { likePost(input: {postID: $id}) { post { id } } }`
		a.as(bob).Do(t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": ada.ID}, nil)
		a.as(bob).Do(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "nice"}) { comment { id } } }`, map[string]any{"id": p.ID}, nil)
		a.as(bob).Do(t, like, map[string]any{"id": p.ID}, nil)
		a.as(bob).Do(t, like, map[string]any{"id": p.ID}, nil) // liking again changes nothing: no second notice
		a.as(ada).Do(t, like, map[string]any{"id": p.ID}, nil) // her own like: no notice
		a.settle(t)                                            // notices are jobs: wait for them to run

		const list = `query($unread: Boolean) { viewer { unreadNotificationCount notifications(first: 10, unread: $unread) {
  totalCount edges { node { id kind readAt actor { username } post { title } comment { body } } } } } }`
		type page struct {
			Viewer struct {
				UnreadNotificationCount int
				Notifications           struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							ID, Kind string
							ReadAt   *string
							Actor    struct{ Username string }
						}
					}
				}
			}
		}
		var got page
		a.as(ada).Do(t, list, nil, &got)
		var kinds []string
		for _, e := range got.Viewer.Notifications.Edges {
			if e.Node.Actor.Username != "bob" || e.Node.ReadAt != nil {
				t.Fatalf("notification %+v: want unread, by bob", e.Node)
			}
			kinds = append(kinds, e.Node.Kind)
		}
		if got.Viewer.UnreadNotificationCount != 3 || len(kinds) != 3 || kinds[0] != "POST_LIKED" || kinds[1] != "NEW_COMMENT" || kinds[2] != "NEW_FOLLOWER" {
			t.Fatalf("ada's notifications, newest first: want POST_LIKED, NEW_COMMENT, NEW_FOLLOWER (3 unread); got %v (%d unread)", kinds, got.Viewer.UnreadNotificationCount)
		}
		// The three notices were jobs: the metrics count their attempts and the queue they left.
		// (River reports a finished job just after it is stored as finished.)
		const attempts = `agora_job_attempts_total{kind="notify",outcome="completed"}`
		samples := testenv.Scrape(t, a.srv.URL+"/metrics")
		for deadline := time.Now().Add(30 * time.Second); samples[attempts] < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			samples = testenv.Scrape(t, a.srv.URL+"/metrics")
		}
		for series, want := range map[string]float64{
			attempts: 3,
			`agora_job_run_seconds_count{kind="notify"}`:  3,
			`agora_job_wait_seconds_count{kind="notify"}`: 3,
			`agora_jobs{kind="notify",state="available"}`: 0, // none left
		} {
			if samples[series] != want {
				t.Errorf("%s = %v, want %v", series, samples[series], want)
			}
		}
		var bobs page
		a.as(bob).Do(t, list, nil, &bobs)
		if bobs.Viewer.Notifications.TotalCount != 0 {
			t.Fatalf("bob acted and was notified of it: %+v", bobs)
		}
		// Nobody reads another user's notifications, not even through node.
		first := got.Viewer.Notifications.Edges[0].Node.ID
		if data := rawData(t, a.as(bob), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": first}); data != `{"node":null}` {
			t.Fatalf("bob reads ada's notification: %s", data)
		}
		// Marking: bob cannot mark ada's; ada marks one, then the rest.
		var marked struct {
			MarkNotificationsRead struct {
				Count  int
				Viewer struct{ UnreadNotificationCount int }
			}
		}
		mark := `mutation($ids: [ID!]) { markNotificationsRead(input: {ids: $ids}) { count viewer { unreadNotificationCount } } }`
		a.as(bob).Do(t, mark, map[string]any{"ids": []string{first}}, &marked)
		if marked.MarkNotificationsRead.Count != 0 {
			t.Fatalf("bob marked %d of ada's notifications", marked.MarkNotificationsRead.Count)
		}
		a.as(ada).Do(t, mark, map[string]any{"ids": []string{first}}, &marked)
		if marked.MarkNotificationsRead.Count != 1 || marked.MarkNotificationsRead.Viewer.UnreadNotificationCount != 2 {
			t.Fatalf("ada marks one: %+v", marked)
		}
		a.as(ada).Do(t, list, map[string]any{"unread": true}, &got)
		if got.Viewer.Notifications.TotalCount != 2 {
			t.Fatalf("unread after marking one: %d, want 2", got.Viewer.Notifications.TotalCount)
		}
		a.as(ada).Do(t, mark, nil, &marked)
		if marked.MarkNotificationsRead.Count != 2 || marked.MarkNotificationsRead.Viewer.UnreadNotificationCount != 0 {
			t.Fatalf("ada marks all: %+v", marked)
		}
	})
}

// TestMessages: the first message starts a conversation, later ones join it; only its two
// participants see it; bad input changes nothing.
func TestMessages(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada, bob, cy := a.register(t, "ada"), a.register(t, "bob"), a.register(t, "cyd")
		send := `mutation($to: ID!, $b: String!) { sendMessage(input: {recipientID: $to, body: $b}) { message { body sender { username } } conversation { id } } }`
		for _, tc := range []struct{ name, to, body, code, field string }{
			{"to oneself", ada.ID, "hi", "BAD_USER_INPUT", "recipientID"},
			{"empty", bob.ID, "  ", "BAD_USER_INPUT", "body"},
			{"to nobody", unusedID(t, cy.ID, 1000), "hi", "NOT_FOUND", "recipientID"},
		} {
			a.as(ada).Fail(t, tc.code, tc.field, send, map[string]any{"to": tc.to, "b": tc.body})
		}
		if n := a.count(t, "messages") + a.count(t, "conversations"); n != 0 {
			t.Fatalf("refused messages wrote %d rows", n)
		}

		var first, second struct {
			SendMessage struct{ Conversation struct{ ID string } }
		}
		a.as(ada).Do(t, send, map[string]any{"to": bob.ID, "b": "one"}, &first)
		a.as(bob).Do(t, send, map[string]any{"to": ada.ID, "b": "two"}, &second)
		conv := first.SendMessage.Conversation.ID
		if second.SendMessage.Conversation.ID != conv {
			t.Fatalf("a reply started a second conversation: %s then %s", conv, second.SendMessage.Conversation.ID)
		}
		a.as(cy).Do(t, send, map[string]any{"to": ada.ID, "b": "three"}, nil)

		const list = `{ conversations(first: 10) { edges { node { id participants { username } messages(first: 10) { edges { node { body sender { username } } } } } } } }`
		var got struct {
			Conversations struct {
				Edges []struct {
					Node struct {
						ID           string
						Participants []struct{ Username string }
						Messages     struct {
							Edges []struct{ Node struct{ Body string } }
						}
					}
				}
			}
		}
		a.as(ada).Do(t, list, nil, &got)
		if e := got.Conversations.Edges; len(e) != 2 || e[1].Node.ID != conv || len(e[1].Node.Messages.Edges) != 2 ||
			e[1].Node.Messages.Edges[0].Node.Body != "two" || e[1].Node.Messages.Edges[1].Node.Body != "one" {
			t.Fatalf("ada's conversations, most recent first, messages newest first: %+v", e)
		}
		a.as(cy).Do(t, list, nil, &got)
		if len(got.Conversations.Edges) != 1 || got.Conversations.Edges[0].Node.ID == conv {
			t.Fatalf("cy sees conversations that are not hers: %+v", got.Conversations.Edges)
		}
		if data := rawData(t, a.as(cy), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": conv}); data != `{"node":null}` {
			t.Fatalf("cy reads ada and bob's conversation through node: %s", data)
		}
	})
}

// TestMessagePolicy: who may message whom. A recipient's messagePolicy (EVERYONE by default,
// FOLLOWING: the people they follow, NOBODY) applies to every message, in open conversations too;
// banned users can neither send nor receive; each refusal is FORBIDDEN with a message that says
// why, does not reveal a ban, and writes nothing.
func TestMessagePolicy(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada, bob, cyd := a.register(t, "ada"), a.register(t, "bob"), a.register(t, "cyd")
		admin, ben := a.register(t, "admin"), a.register(t, "ben")
		a.setRole(t, admin, "ADMIN")
		const send = `mutation($to: ID!) { sendMessage(input: {recipientID: $to, body: "hello"}) { message { id } } }`
		const set = `mutation($p: UserMessagePolicy!) { setMessagePolicy(input: {policy: $p}) { user { username messagePolicy } } }`
		const policyOf = `query($u: String!) { user(username: $u) { messagePolicy } }`
		sends := func(t *testing.T, from, to user) {
			t.Helper()
			a.as(from).Do(t, send, map[string]any{"to": to.ID}, nil)
		}
		refused := func(t *testing.T, from, to user, want string) {
			t.Helper()
			a.settle(t) // the notices of the messages sent so far are written
			before := a.count(t, "messages") + a.count(t, "conversations") + a.count(t, "notifications")
			e := a.as(from).Fail(t, "FORBIDDEN", "", send, map[string]any{"to": to.ID})
			if !strings.Contains(e.Message, want) {
				t.Errorf("%s to %s: want a message with %q, got %q", from.Username, to.Username, want, e.Message)
			}
			a.settle(t)
			if after := a.count(t, "messages") + a.count(t, "conversations") + a.count(t, "notifications"); after != before {
				t.Errorf("%s to %s: a refused message wrote %d rows", from.Username, to.Username, after-before)
			}
		}
		setPolicy := func(t *testing.T, u user, p string) {
			t.Helper()
			var out struct {
				SetMessagePolicy struct {
					User struct{ Username, MessagePolicy string }
				}
			}
			a.as(u).Do(t, set, map[string]any{"p": p}, &out)
			if got := out.SetMessagePolicy.User; got.Username != u.Username || got.MessagePolicy != p {
				t.Fatalf("setMessagePolicy(%s) as %s: got %+v", p, u.Username, got)
			}
		}

		// The setting is its owner's alone; EVERYONE by default.
		if got := rawData(t, a.as(ada), `{ viewer { messagePolicy } }`, nil); got != `{"viewer":{"messagePolicy":"EVERYONE"}}` {
			t.Errorf("ada's own policy: %s", got)
		}
		for _, c := range []testenv.GraphQL{a.GraphQL, a.as(bob), a.as(admin)} {
			if got := rawData(t, c, policyOf, map[string]any{"u": "ada"}); got != `{"user":{"messagePolicy":null}}` {
				t.Errorf("someone else reads ada's policy: %s", got)
			}
		}
		sends(t, bob, ada)
		sends(t, ada, bob)

		// FOLLOWING: the people ada follows, in the conversation already open too.
		setPolicy(t, ada, "FOLLOWING")
		if got := rawData(t, a.as(ada), policyOf, map[string]any{"u": "ada"}); got != `{"user":{"messagePolicy":"FOLLOWING"}}` {
			t.Errorf("ada's policy after the change: %s", got)
		}
		refused(t, bob, ada, "only from people they follow")
		a.as(ada).Do(t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": bob.ID}, nil)
		sends(t, bob, ada)
		refused(t, cyd, ada, "only from people they follow")
		// Following ada is not what counts: ada following them is.
		a.as(cyd).Do(t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": ada.ID}, nil)
		refused(t, cyd, ada, "only from people they follow")

		// NOBODY: not even those she follows; she may still write to others.
		setPolicy(t, ada, "NOBODY")
		refused(t, bob, ada, "does not accept direct messages")
		sends(t, ada, bob)
		setPolicy(t, ada, "EVERYONE")
		sends(t, cyd, ada)

		// Bans: a banned user neither receives (and the refusal does not tell a ban from a
		// setting) nor sends, nor changes the setting.
		sends(t, ben, bob)
		a.as(admin).Do(t, `mutation($id: ID!) { banUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": ben.ID}, nil)
		refused(t, bob, ben, "does not accept direct messages from you")
		refused(t, admin, ben, "does not accept direct messages from you")
		before := a.count(t, "messages")
		a.as(ben).Fail(t, "FORBIDDEN", "", send, map[string]any{"to": bob.ID})
		a.as(ben).Fail(t, "FORBIDDEN", "", set, map[string]any{"p": "NOBODY"})
		if a.count(t, "messages") != before {
			t.Error("a banned user sent a message")
		}
		a.as(admin).Do(t, `mutation($id: ID!) { unbanUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": ben.ID}, nil)
		sends(t, bob, ben)
		sends(t, ben, bob)
	})
}
