package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/authz"
)

// Notification tells a user that someone acted on them or their content. The system writes them
// after the action commits, never to the actor themselves.
type Notification struct{ ent.Schema }

// Fields of the Notification.
func (Notification) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").
			Values("NEW_FOLLOWER", "NEW_COMMENT", "POST_LIKED", "NEW_MESSAGE").
			Annotations(Values{
				"NEW_FOLLOWER": "The actor follows the recipient now.",
				"NEW_COMMENT":  "The actor commented on the recipient's post.",
				"POST_LIKED":   "The actor liked the recipient's post.",
				"NEW_MESSAGE":  "The actor sent the recipient a direct message.",
			}).
			Immutable().
			Comment("What happened."),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Comment("When it happened.").
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("read_at").
			Optional().
			Nillable().
			Comment("When the recipient marked it read; null while unread.").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Int("recipient_id").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("actor_id").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("post_id").Optional().Nillable().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("comment_id").Optional().Nillable().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("message_id").Optional().Nillable().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Notification.
func (Notification) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("recipient", User.Type).Field("recipient_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
		edge.To("actor", User.Type).Field("actor_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)).
			Comment("Who did it."),
		edge.To("post", Post.Type).Field("post_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)).
			Comment("The post liked or commented on, for POST_LIKED and NEW_COMMENT."),
		edge.To("comment", Comment.Type).Field("comment_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)).
			Comment("The new comment, for NEW_COMMENT."),
		edge.To("message", Message.Type).Field("message_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)).
			Comment("The new message, for NEW_MESSAGE."),
	}
}

// Indexes of the Notification: a user's notifications newest first, and their unread ones (the
// list with unread: true, and the unread count); id breaks ties, as pagination orders by it second.
func (Notification) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("recipient_id", "created_at", "id").StorageKey("notification_list_recipient_id_created_at"),
		index.Fields("recipient_id", "created_at", "id").StorageKey("notification_list_unread_recipient_id_created_at").
			Annotations(entsql.IndexWhere("read_at IS NULL")),
	}
}

// Annotations of the Notification.
func (Notification) Annotations() []schema.Annotation {
	return []schema.Annotation{Doc("Something that happened that concerns the viewer: a new follower, a comment on or a like of their post, a direct message."),
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Conversation is a one-to-one exchange of direct messages, started by the first message.
type Conversation struct{ ent.Schema }

// Fields of the Conversation.
func (Conversation) Fields() []ent.Field {
	return []ent.Field{
		field.String("pair").
			Unique().
			Immutable().
			Comment("The participants' IDs, lower first: one conversation per pair.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Comment("When the first message was sent."),
		field.Time("last_message_at").
			Default(timeNow).
			Comment("When the latest message was sent.").
			Annotations(entgql.OrderField("LAST_MESSAGE_AT")),
	}
}

// Edges of the Conversation.
func (Conversation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("participants", User.Type).
			Through("memberships", Participant.Type).
			Comment("The two users in the conversation.").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		edge.To("messages", Message.Type).
			Annotations(entgql.RelayConnection(), entgql.Skip(entgql.SkipWhereInput), entsql.OnDelete(entsql.Cascade)).
			Comment("The messages, newest first."),
	}
}

// Indexes of the Conversation: the order of conversations (a user's are found through the
// participants' index, then sorted); id breaks ties, as pagination orders by it second.
func (Conversation) Indexes() []ent.Index {
	return []ent.Index{index.Fields("last_message_at", "id").StorageKey("conversation_list_last_message_at")}
}

// Annotations of the Conversation.
func (Conversation) Annotations() []schema.Annotation {
	return []schema.Annotation{Doc("A one-to-one exchange of direct messages between two users, started by the first message; only its two participants see it."),
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Message is one direct message in a conversation.
type Message struct{ ent.Schema }

// Fields of the Message.
func (Message) Fields() []ent.Field {
	return []ent.Field{
		field.Text("body").
			NotEmpty().
			Immutable().
			Comment("Content, plain text."),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Comment("When it was sent.").
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Int("sender_id").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("conversation_id").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Message.
func (Message) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sender", User.Type).Field("sender_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)).
			Comment("Who sent it."),
		edge.From("conversation", Conversation.Type).Ref("messages").Field("conversation_id").
			Unique().Required().Immutable().
			Comment("The conversation it belongs to."),
	}
}

// Indexes of the Message: a conversation's messages in each order conversation.messages offers
// (id, newest first, by default; CREATED_AT); id breaks ties, as pagination orders by it second.
func (Message) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("conversation_id", "id").StorageKey("message_list_conversation_id"),
		index.Fields("conversation_id", "created_at", "id").StorageKey("message_list_conversation_id_created_at"),
	}
}

// Annotations of the Message.
func (Message) Annotations() []schema.Annotation {
	return []schema.Annotation{Doc("One direct message in a conversation."),
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Policy of the Notification: recipients read and mark their own; the system writes them.
func (Notification) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.ReadOwnNotifications(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterNotifications(), privacy.AlwaysAllowRule()},
	}
}

// Policy of the Conversation: participants only.
func (Conversation) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnConversations(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterConversations(), privacy.AlwaysAllowRule()},
	}
}

// Policy of the Message: participants read; senders send as themselves.
func (Message) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnMessages(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterMessages(), privacy.AlwaysAllowRule()},
	}
}
