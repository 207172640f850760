package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/schema/gql"
	"github.com/agora/agora/internal/authz"
)

// Conversation is a one-to-one exchange of direct messages, started by the first message.
type Conversation struct{ ent.Schema }

// Fields of the Conversation.
func (Conversation) Fields() []ent.Field {
	return []ent.Field{
		field.String("pair").
			Unique().
			Immutable().
			Comment("The participants' IDs, lower first: one conversation per pair.").
			Annotations(gql.Skip(gql.SkipAll)),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Comment("When the first message was sent."),
		field.Time("last_message_at").
			Default(timeNow).
			Comment("When the latest message was sent.").
			Annotations(gql.OrderField("LAST_MESSAGE_AT")),
	}
}

// Edges of the Conversation.
func (Conversation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("participants", User.Type).
			Through("memberships", Participant.Type).
			Comment("The two users in the conversation.").
			Annotations(gql.Skip(gql.SkipWhereInput)),
		edge.To("messages", Message.Type).
			Annotations(gql.RelayConnection(), gql.Skip(gql.SkipWhereInput), entsql.OnDelete(entsql.Cascade)).
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
		gql.RelayConnection(),
		gql.Skip(gql.SkipWhereInput, gql.SkipMutationCreateInput, gql.SkipMutationUpdateInput)}
}

// Policy of the Conversation: participants only.
func (Conversation) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnConversations(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterConversations(), privacy.AlwaysAllowRule()},
	}
}
