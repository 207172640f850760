package server_test

import (
	"testing"
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
