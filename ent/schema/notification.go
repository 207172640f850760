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

// Notification tells a user that someone acted on them or their content. The system writes them
// after the action commits, never to the actor themselves.
type Notification struct{ ent.Schema }

// Fields of the Notification.
func (Notification) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").
			Values("NEW_FOLLOWER", "NEW_COMMENT", "POST_LIKED", "NEW_MESSAGE", "NEW_MEMBER").
			Annotations(Values{
				"NEW_FOLLOWER": "The actor follows the recipient now.",
				"NEW_COMMENT":  "The actor commented on the recipient's post.",
				"POST_LIKED":   "The actor liked the recipient's post.",
				"NEW_MESSAGE":  "The actor sent the recipient a direct message.",
				"NEW_MEMBER":   "The actor became a member of the recipient (a paid membership).",
			}).
			Immutable().
			Comment("What happened."),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Comment("When it happened.").
			Annotations(gql.OrderField("CREATED_AT")),
		field.Time("read_at").
			Optional().
			Nillable().
			Comment("When the recipient marked it read; null while unread.").
			Annotations(gql.Skip(gql.SkipWhereInput)),
		field.Int("recipient_id").Immutable().Annotations(gql.Skip(gql.SkipAll)),
		field.Int("actor_id").Immutable().Annotations(gql.Skip(gql.SkipAll)),
		field.Int("post_id").Optional().Nillable().Immutable().Annotations(gql.Skip(gql.SkipAll)),
		field.Int("comment_id").Optional().Nillable().Immutable().Annotations(gql.Skip(gql.SkipAll)),
		field.Int("message_id").Optional().Nillable().Immutable().Annotations(gql.Skip(gql.SkipAll)),
	}
}

// Edges of the Notification.
func (Notification) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("recipient", User.Type).Field("recipient_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade), gql.Skip(gql.SkipAll)),
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
		gql.RelayConnection(),
		gql.Skip(gql.SkipWhereInput, gql.SkipMutationCreateInput, gql.SkipMutationUpdateInput)}
}

// Policy of the Notification: recipients read and mark their own; the system writes them.
func (Notification) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.ReadOwnNotifications(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterNotifications(), privacy.AlwaysAllowRule()},
	}
}
