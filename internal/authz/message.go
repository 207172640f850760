package authz

import (
	"context"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/conversation"
	"github.com/agora/agora/ent/message"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/auth"
)

// FilterNotifications shows users their own notifications only: not even admins read others'.
func FilterNotifications() privacy.QueryRule {
	return privacy.NotificationQueryRuleFunc(func(ctx context.Context, q *ent.NotificationQuery) error {
		q.Where(notification.RecipientID(auth.FromContext(ctx).UserID)) // anonymous: ID 0, no rows
		return privacy.Skip
	})
}

// ReadOwnNotifications lets users mark their own notifications read, and change nothing else;
// creating them is the system's job.
func ReadOwnNotifications() privacy.MutationRule {
	return privacy.NotificationMutationRuleFunc(func(ctx context.Context, m *ent.NotificationMutation) error {
		v := auth.FromContext(ctx)
		if !v.Authenticated() || !m.Op().Is(ent.OpUpdate|ent.OpUpdateOne) {
			return privacy.Denyf("notifications are written by the system")
		}
		for _, f := range m.Fields() {
			if f != notification.FieldReadAt {
				return privacy.Denyf("only readAt changes")
			}
		}
		m.Where(notification.RecipientID(v.UserID))
		return privacy.Allow
	})
}

// FilterConversations shows users the conversations they take part in only.
func FilterConversations() privacy.QueryRule {
	return privacy.ConversationQueryRuleFunc(func(ctx context.Context, q *ent.ConversationQuery) error {
		q.Where(conversation.HasParticipantsWith(user.ID(auth.FromContext(ctx).UserID)))
		return privacy.Skip
	})
}

// FilterMessages shows users the messages of their own conversations only.
func FilterMessages() privacy.QueryRule {
	return privacy.MessageQueryRuleFunc(func(ctx context.Context, q *ent.MessageQuery) error {
		q.Where(message.HasConversationWith(conversation.HasParticipantsWith(user.ID(auth.FromContext(ctx).UserID))))
		return privacy.Skip
	})
}

// OwnConversations lets writers start conversations they take part in, and update (the time of
// the latest message) only those.
func OwnConversations() privacy.MutationRule {
	return privacy.ConversationMutationRuleFunc(func(ctx context.Context, m *ent.ConversationMutation) error {
		v := auth.FromContext(ctx)
		switch {
		case m.Op().Is(ent.OpCreate):
			for _, id := range m.ParticipantsIDs() {
				if id == v.UserID {
					return privacy.Allow
				}
			}
			return privacy.Denyf("conversations are started by a participant")
		case m.Op().Is(ent.OpUpdate | ent.OpUpdateOne):
			if touchesEdges(m, conversation.EdgeParticipants, conversation.EdgeMessages) {
				return privacy.Denyf("participants are fixed; messages are sent through their own mutation")
			}
			m.Where(conversation.HasParticipantsWith(user.ID(v.UserID)))
			return privacy.Allow
		}
		return privacy.Denyf("conversations are not deleted")
	})
}

// OwnMessages lets writers send messages as themselves; a message is never changed or deleted.
func OwnMessages() privacy.MutationRule {
	return privacy.MessageMutationRuleFunc(func(ctx context.Context, m *ent.MessageMutation) error {
		if id, _ := m.SenderID(); m.Op().Is(ent.OpCreate) && id == auth.FromContext(ctx).UserID {
			return privacy.Allow // the message service checks the conversation is the sender's
		}
		return privacy.Denyf("messages are sent by their sender and never changed")
	})
}
