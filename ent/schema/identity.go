package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/schema/gql"
)

// Identity is an account at an identity provider (an OpenID Connect issuer, GitHub) that signs a
// user in: the provider's stable subject, never the email address, names it.
type Identity struct{ ent.Schema }

// Fields of the Identity.
func (Identity) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable(),
		field.String("provider").Immutable().MaxLen(64).Comment("The configured provider's name, e.g. github or google."),
		field.String("subject").Immutable().MaxLen(255).Comment("The provider's stable ID of the account (the ID token's sub, GitHub's user ID)."),
		field.String("email").Default("").MaxLen(254).Comment("The verified email address the provider gave at the last sign-in, for the user to recognize it."),
		field.Time("created_at").Immutable().Default(timeNow).Comment("When the identity was linked."),
	}
}

// Edges of the Identity.
func (Identity) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("identities").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Identity: one account per provider subject, found by it at every sign-in.
func (Identity) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("provider", "subject").Unique(),
		index.Fields("user_id"),
	}
}

// Annotations of the Identity: the GraphQL type is hand-written (schema/identity.graphqls).
func (Identity) Annotations() []schema.Annotation {
	return []schema.Annotation{gql.Skip(gql.SkipAll)}
}

// Policy of the Identity: only the system (internal/identity) reads and writes them; users see
// their own through User.identities.
func (Identity) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
	}
}

// SignInFlow is a sign-in through an identity provider in progress, its result waiting for the
// client, or a link waiting for the owner's confirmation by email: short-lived and single-use, found
// by the hash of its state, its ticket or its confirmation token.
type SignInFlow struct{ ent.Schema }

// Fields of the SignInFlow.
func (SignInFlow) Fields() []ent.Field {
	return []ent.Field{
		field.String("key_hash").Unique().Immutable().Comment("SHA-256 of the flow's state, or of the ticket the callback handed the client, hex."),
		field.String("provider").Immutable(),
		field.String("redirect_uri").Immutable().MaxLen(2048).Comment("The allow-listed client page the callback returns to."),
		field.String("nonce").Default("").Immutable().Sensitive(),
		field.String("verifier").Default("").Immutable().Sensitive().Comment("The PKCE code verifier."),
		field.String("binding_hash").Optional().Nillable().Comment("SHA-256 of the browser cookie set when the browser was sent to the provider."),
		field.Int("link_user_id").Optional().Nillable().Immutable().Comment("The signed-in user linking this identity (linkIdentity), else null."),
		field.Int("user_id").Optional().Nillable().Immutable().Comment("A ticket's user, to open a session for."),
		field.String("subject").Default("").Immutable().MaxLen(255).Comment("A link waiting for the owner's confirmation by email: the identity's subject."),
		field.String("email").Default("").Immutable().MaxLen(254).Comment("A link waiting for confirmation: the identity's verified address, where the confirmation went."),
		field.Time("created_at").Immutable().Default(timeNow),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes of the SignInFlow: expired rows are deleted by age.
func (SignInFlow) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Annotations of the SignInFlow.
func (SignInFlow) Annotations() []schema.Annotation {
	return []schema.Annotation{gql.Skip(gql.SkipAll)}
}

// Policy of the SignInFlow: only the system.
func (SignInFlow) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
	}
}
