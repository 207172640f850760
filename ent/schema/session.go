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

// Session is one sign-in of a user on one device: it lives as long as its refresh tokens keep
// rotating, until it expires or is revoked.
type Session struct{ ent.Schema }

// Fields of the Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable().Annotations(gql.Skip(gql.SkipAll)),
		field.String("user_agent").
			Default("").
			Immutable().
			Comment("The User-Agent of the client that signed in."),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Comment("When the user signed in."),
		field.Time("last_used_at").
			Default(timeNow).
			Comment("When the session last refreshed its access token."),
		field.Time("expires_at").
			Comment("When the session ends unless refreshed before."),
		field.Time("revoked_at").
			Optional().
			Nillable().
			Annotations(gql.Skip(gql.SkipAll)),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("sessions").
			Field("user_id").
			Unique().Required().Immutable().
			Annotations(gql.Skip(gql.SkipAll)),
		edge.To("refresh_tokens", RefreshToken.Type).
			Annotations(gql.Skip(gql.SkipAll), entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the Session.
func (Session) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "last_used_at")}
}

// Annotations of the Session.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{
		Doc("One sign-in of a user on one device; it ends when unused for the session lifetime, at logout, or when revoked."), gql.Skip(gql.SkipWhereInput, gql.SkipOrderField, gql.SkipMutationCreateInput, gql.SkipMutationUpdateInput)}
}

// Policy of the Session: users see and revoke their own; signing in and refreshing run as the
// system (privacy.Allow in internal/account).
func (Session) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.OwnSessions(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterSessions(), privacy.AlwaysAllowRule()},
	}
}

// RefreshToken is one refresh token of a session, stored only as a hash. Rotating marks it used; a
// used token presented again means it was stolen, and revokes its session.
type RefreshToken struct{ ent.Schema }

// Fields of the RefreshToken.
func (RefreshToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("hash").Unique().Immutable().Comment("SHA-256 of the token, hex."),
		field.Int("session_id").Immutable(),
		field.Time("created_at").Immutable().Default(timeNow),
		field.Time("rotated_at").Optional().Nillable(),
	}
}

// Edges of the RefreshToken.
func (RefreshToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("session", Session.Type).Ref("refresh_tokens").Field("session_id").Unique().Required().Immutable(),
	}
}

// Annotations of the RefreshToken.
func (RefreshToken) Annotations() []schema.Annotation {
	return []schema.Annotation{gql.Skip(gql.SkipAll)}
}

// Policy of the RefreshToken: only the system (sign-in, refresh) reads or writes them.
func (RefreshToken) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
	}
}
