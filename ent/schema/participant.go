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
)

// Participant puts a user in a conversation: the table of the Conversation.participants edge,
// declared so that it can carry an index by user (a user's conversations, and the privacy of
// conversations and messages). Rows are written with the conversation, never directly.
type Participant struct{ ent.Schema }

// Fields of the Participant.
func (Participant) Fields() []ent.Field {
	return []ent.Field{
		field.Int("conversation_id"),
		field.Int("user_id"),
	}
}

// Edges of the Participant.
func (Participant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("conversation", Conversation.Type).Field("conversation_id").Unique().Required().
			StorageKey(edge.Symbol("conversation_participants_conversation_id")).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("user", User.Type).Field("user_id").Unique().Required().
			StorageKey(edge.Symbol("conversation_participants_user_id")).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the Participant: the primary key finds a conversation's users; this one a user's
// conversations.
func (Participant) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "conversation_id").StorageKey("participant_list_user_id")}
}

// Annotations of the Participant.
func (Participant) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("conversation_participants"),
		field.ID("conversation_id", "user_id"),
		gql.Skip(gql.SkipAll),
	}
}

// Policy of the Participant: no direct writes; conversations are started with their participants.
func (Participant) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()}}
}
