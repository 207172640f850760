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

// MembershipPlan is the monthly membership an author offers, backed by a Stripe Product and
// Price on the platform account. One per author; a new price makes a new Price (Stripe's are
// immutable).
type MembershipPlan struct{ ent.Schema }

// Fields of the MembershipPlan.
func (MembershipPlan) Fields() []ent.Field {
	return []ent.Field{
		field.Int("author_id").Immutable().Unique(),
		field.Int64("monthly_price").Positive().Comment("Price per month in the currency's smallest unit (cents)."),
		field.String("currency").MaxLen(3).Comment("ISO 4217 code, lower case."),
		field.String("description").Default("").MaxLen(500),
		field.Bool("active").Default(true).Comment("Whether new members may join."),
		field.String("stripe_product_id").MaxLen(255),
		field.String("stripe_price_id").MaxLen(255),
		field.Time("created_at").Immutable().Default(timeNow),
		field.Time("updated_at").Default(timeNow).UpdateDefault(timeNow),
	}
}

// Edges of the MembershipPlan.
func (MembershipPlan) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("author", User.Type).Ref("membership_plan").Field("author_id").Unique().Required().Immutable(),
	}
}

// Annotations of the MembershipPlan: its own global-ID range; the GraphQL type is hand-written.
func (MembershipPlan) Annotations() []schema.Annotation {
	return []schema.Annotation{gql.Skip(gql.SkipAll), entsql.IncrementStart(20 << 32)}
}

// Policy of the MembershipPlan: public prices, written by the system (internal/billing) only.
func (MembershipPlan) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{privacy.AlwaysAllowRule()},
	}
}

// Membership is a reader's subscription to an author's plan, mirrored from the Stripe
// subscription: written only by the webhook jobs, from Stripe's current state.
type Membership struct{ ent.Schema }

// Fields of the Membership.
func (Membership) Fields() []ent.Field {
	return []ent.Field{
		field.Int("member_id").Immutable(),
		field.Int("author_id").Immutable(),
		field.Enum("status").Values("INCOMPLETE", "ACTIVE", "PAST_DUE", "CANCELED").Default("INCOMPLETE"),
		field.Time("current_period_end").Optional().Nillable().Comment("When the paid period ends: renewal, or the end of access once canceled."),
		field.Bool("cancel_at_period_end").Default(false),
		field.String("stripe_subscription_id").Unique().MaxLen(255),
		field.Time("stripe_updated_at").Optional().Nillable().Comment("Created time of the newest Stripe event applied; older ones are ignored."),
		field.Time("created_at").Immutable().Default(timeNow),
		field.Time("updated_at").Default(timeNow).UpdateDefault(timeNow),
	}
}

// Edges of the Membership.
func (Membership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("member", User.Type).Ref("memberships").Field("member_id").Unique().Required().Immutable(),
		edge.From("author", User.Type).Ref("members").Field("author_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Membership: one per member and author; the author's members counted by author.
func (Membership) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("member_id", "author_id").Unique(),
		index.Fields("author_id", "status"),
	}
}

// Annotations of the Membership.
func (Membership) Annotations() []schema.Annotation {
	return []schema.Annotation{gql.Skip(gql.SkipAll), entsql.IncrementStart(21 << 32)}
}

// Policy of the Membership: only the system reads and writes them (internal/billing answers the
// member's and the author's questions).
func (Membership) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
	}
}

// StripeEvent is a webhook delivery from Stripe, stored by its event ID so that a duplicate
// delivery is recognized and each event is processed once.
type StripeEvent struct{ ent.Schema }

// Fields of the StripeEvent.
func (StripeEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("event_id").Unique().Immutable().MaxLen(255),
		field.String("type").Immutable().MaxLen(100),
		field.Bytes("payload").Immutable(),
		field.Time("received_at").Immutable().Default(timeNow),
		field.Time("processed_at").Optional().Nillable(),
	}
}

// Annotations of the StripeEvent.
func (StripeEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{gql.Skip(gql.SkipAll), entsql.IncrementStart(22 << 32)}
}

// Policy of the StripeEvent: only the system.
func (StripeEvent) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
	}
}
