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

// AccountToken is a single-use token Agora mailed to a user's address: one that confirms the
// address, or one that sets a new password. Only its hash is stored; using it deletes it.
type AccountToken struct{ ent.Schema }

// Fields of the AccountToken.
func (AccountToken) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("purpose").Values("VERIFY_EMAIL", "RESET_PASSWORD").Immutable(),
		field.String("hash").Unique().Immutable().Comment("SHA-256 of the token, hex."),
		field.Int("user_id").Immutable(),
		field.String("email").Immutable().MaxLen(254).Comment("The address the token was mailed to: it confirms only that one."),
		field.Time("created_at").Immutable().Default(timeNow),
		field.Time("expires_at").Immutable(),
	}
}

// Edges of the AccountToken.
func (AccountToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("account_tokens").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the AccountToken: a user's tokens of a purpose (replaced by a new one), and expiry
// for the clean-up.
func (AccountToken) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "purpose"), index.Fields("expires_at")}
}

// Annotations of the AccountToken. Its global-ID range is fixed, not the next free one.
func (AccountToken) Annotations() []schema.Annotation {
	return []schema.Annotation{gql.Skip(gql.SkipAll), entsql.IncrementStart(16 << 32)}
}

// Policy of the AccountToken: only the system (internal/account) reads or writes them.
func (AccountToken) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
	}
}
