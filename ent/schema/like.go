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

// Like records that a user likes a post; a user likes a post at most once.
type Like struct{ ent.Schema }

// Fields of the Like.
func (Like) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Immutable().Default(timeNow),
		field.Int("user_id"),
		field.Int("post_id"),
	}
}

// Edges of the Like.
func (Like) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("post", Post.Type).Field("post_id").Unique().Required().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the Like.
func (Like) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "post_id").Unique(),
		// A post's likes, and (index only) how many it had at a moment, as search ranking asks.
		index.Fields("post_id", "created_at"),
	}
}

// Annotations of the Like.
func (Like) Annotations() []schema.Annotation {
	return []schema.Annotation{gql.Skip(gql.SkipAll)}
}

// Policy of the Like: reads filtered by authz, writes denied unless an authz rule allows them.
func (Like) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnLikes(), privacy.AlwaysDenyRule()},
	}
}
