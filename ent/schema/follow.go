package schema

import (
	"time"

	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/schema/gql"
	"github.com/agora/agora/internal/authz"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// timeNow is the default of every time field: UTC, so SQLite's text timestamps compare correctly.
func timeNow() time.Time { return time.Now().UTC() }

// Follow records that a user follows another; never themselves, at most once.
type Follow struct{ ent.Schema }

// Fields of the Follow.
func (Follow) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Immutable().Default(timeNow),
		// ent names the columns of User.followers/following: user_id is followed by following_id.
		field.Int("user_id").Comment("The user followed."),
		field.Int("following_id").Comment("The user who follows."),
	}
}

// Edges of the Follow.
func (Follow) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("following", User.Type).Field("following_id").Unique().Required().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the Follow.
func (Follow) Indexes() []ent.Index {
	// A user's followers (user_id) and whom a user follows (following_id), each from its index alone.
	return []ent.Index{
		index.Fields("user_id", "following_id").Unique(),
		index.Fields("following_id", "user_id").StorageKey("follow_list_following_id"),
	}
}

// Annotations of the Follow.
func (Follow) Annotations() []schema.Annotation {
	return []schema.Annotation{
		gql.Skip(gql.SkipAll),
		entsql.Checks(map[string]string{"follow_not_self": "user_id <> following_id"}),
	}
}

// Policy of the Follow: reads filtered by authz, writes denied unless an authz rule allows them.
func (Follow) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnFollows(), privacy.AlwaysDenyRule()},
	}
}
