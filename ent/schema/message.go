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
			Annotations(gql.OrderField("CREATED_AT")),
		field.Int("sender_id").Immutable().Annotations(gql.Skip(gql.SkipAll)),
		field.Int("conversation_id").Immutable().Annotations(gql.Skip(gql.SkipAll)),
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
		gql.RelayConnection(),
		gql.Skip(gql.SkipWhereInput, gql.SkipMutationCreateInput, gql.SkipMutationUpdateInput)}
}

// Policy of the Message: participants read; senders send as themselves.
func (Message) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnMessages(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterMessages(), privacy.AlwaysAllowRule()},
	}
}
