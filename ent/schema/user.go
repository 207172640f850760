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

// User is a member of the community.
type User struct{ ent.Schema }

// Mixin of the User.
func (User) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").
			Unique().
			MinLen(3).MaxLen(32).
			Comment("Unique handle: 3-32 of a-z, 0-9 and _, stored lower case so it is unique regardless of case.").
			Annotations(gql.OrderField("USERNAME")),
		// Private: never in the generated schema or its filters; exposed to its owner by a hand-written field.
		field.String("email").
			Unique().
			MaxLen(254).
			Comment("Sign-in email address, stored lower case.").
			Annotations(gql.Skip(gql.SkipAll)),
		field.Time("email_verified_at").
			Optional().
			Nillable().
			Comment("When the owner confirmed the address by the link mailed to it, or a provider vouched for it; null until then and again after a change.").
			Annotations(gql.Skip(gql.SkipAll)),
		field.String("password_hash").
			Sensitive().
			Annotations(gql.Skip(gql.SkipAll)),
		field.String("display_name").
			Default("").
			Comment("Name shown next to the user's content.").
			Annotations(gql.OrderField("DISPLAY_NAME")),
		field.Text("bio").
			Default("").
			Comment("Short self-description, plain text."),
		field.String("avatar_url").
			Default("").
			Comment("Absolute http(s) URL of the avatar image, or empty."),
		field.Int("avatar_image_id").
			Optional().
			Nillable().
			Annotations(gql.Skip(gql.SkipAll)).
			Comment("The uploaded image avatar_url shows, if any: released when replaced."),
		field.Time("banned_at").
			Optional().
			Nillable().
			Comment("When the user was banned (banned users can read but not write); visible to moderators, else null.").
			Annotations(
				gql.Skip(gql.SkipWhereInput, gql.SkipOrderField, gql.SkipMutationCreateInput, gql.SkipMutationUpdateInput),
				gql.Directives(requiresScopes([]string{"moderate"})),
			),
		field.Enum("role").
			Values("USER", "MODERATOR", "ADMIN").
			Annotations(Values{
				"USER":      "Writes and manages their own content.",
				"MODERATOR": "A user who may also hide and delete anyone's posts and comments.",
				"ADMIN":     "A moderator who may also change roles and ban users.",
			}).
			Default("USER").
			Comment("What the user may do beyond their own content."),
		// Private: the user's own, through a hand-written field (schema/realtime.graphqls).
		field.Enum("message_policy").
			Values("EVERYONE", "FOLLOWING", "NOBODY").
			Annotations(
				Values{
					"EVERYONE":  "Anyone who may write (signed in, not banned) may send the user direct messages.",
					"FOLLOWING": "Only the people the user follows may send them direct messages.",
					"NOBODY":    "Nobody may send the user direct messages.",
				},
				gql.Skip(gql.SkipType, gql.SkipWhereInput, gql.SkipOrderField, gql.SkipMutationCreateInput, gql.SkipMutationUpdateInput),
			).
			Default("EVERYONE").
			Comment("Who may send the user direct messages."),
		// Private: the user's own notification mail, per kind (internal/notify); the defaults mail
		// what asks for an answer at once and gathers the rest in the daily digest.
		mailSetting("mail_new_follower", "DAILY"),
		mailSetting("mail_new_comment", "INSTANT"),
		mailSetting("mail_post_liked", "DAILY"),
		mailSetting("mail_new_message", "INSTANT"),
		field.Time("digest_through").
			Optional().
			Nillable().
			Annotations(gql.Skip(gql.SkipAll)).
			Comment("The end of the last day the daily digest was mailed for (midnight UTC)."),
		// Private: the Stripe customer made for the user's first membership checkout, reused after.
		field.String("stripe_customer_id").
			Optional().
			Nillable().
			MaxLen(255).
			Annotations(gql.Skip(gql.SkipAll)),
	}
}

// mailSetting is a user's choice of mail for one kind of notification.
func mailSetting(name, def string) ent.Field {
	return field.Enum(name).
		Values("OFF", "INSTANT", "DAILY").
		Default(def).
		Annotations(gql.Skip(gql.SkipAll)).
		Comment("Mail for this kind of notification: none, one per notification, or in the daily digest.")
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("images", Image.Type).
			Annotations(gql.Skip(gql.SkipAll), entsql.OnDelete(entsql.Cascade)),
		edge.To("posts", Post.Type).
			Comment("Posts written by the user: published ones, plus drafts for their author.").
			// No where-filter or count ordering through this edge: predicates skip privacy rules, so
			// they would reveal other people's drafts.
			Annotations(gql.RelayConnection(), gql.Skip(gql.SkipWhereInput), entsql.OnDelete(entsql.Cascade)),
		edge.To("comments", Comment.Type).
			Annotations(gql.Skip(gql.SkipAll), entsql.OnDelete(entsql.Cascade)),
		edge.To("followers", User.Type).
			Comment("Users who follow this user.").
			Annotations(gql.RelayConnection()).
			From("following").
			Comment("Users this user follows.").
			Annotations(gql.RelayConnection()).
			Through("follows", Follow.Type),
		edge.To("sessions", Session.Type).
			Annotations(gql.Skip(gql.SkipAll), entsql.OnDelete(entsql.Cascade)),
		edge.To("account_tokens", AccountToken.Type).
			Annotations(gql.Skip(gql.SkipAll), entsql.OnDelete(entsql.Cascade)),
		edge.To("identities", Identity.Type).
			Annotations(gql.Skip(gql.SkipAll), entsql.OnDelete(entsql.Cascade)),
		edge.From("conversations", Conversation.Type).
			Ref("participants").
			Annotations(gql.Skip(gql.SkipAll)),
		edge.To("liked_posts", Post.Type).
			Through("likes", Like.Type).
			Annotations(gql.Skip(gql.SkipAll)),
		edge.To("membership_plan", MembershipPlan.Type).
			Unique().
			Annotations(gql.Skip(gql.SkipAll), entsql.OnDelete(entsql.Cascade)),
		edge.To("memberships", Membership.Type).
			Annotations(gql.Skip(gql.SkipAll), entsql.OnDelete(entsql.Cascade)),
		edge.To("members", Membership.Type).
			Annotations(gql.Skip(gql.SkipAll), entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the User: the orders users offers (username has its unique index; id breaks ties, as
// pagination orders by it second). Followers and following are found through the follows' indexes,
// then sorted.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("role").StorageKey("user_role"), // users(where: {role:}) (internal/filter), e.g. the few moderators
		index.Fields("display_name", "id").StorageKey("user_list_display_name"),
		index.Fields("created_at", "id").StorageKey("user_list_created_at"),
		index.Fields("updated_at", "id").StorageKey("user_list_updated_at"),
		// The few banned users, whose posts a search leaves out (internal/search): read once per
		// search instead of looking each match's author up.
		index.Fields("id").StorageKey("user_banned").Annotations(entsql.IndexWhere("banned_at IS NOT NULL")),
	}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		Doc("A member of the community: a public profile, their posts and the people they follow. Their email only they and admins see."),
		// Counts and flags by the user's ID; the fields of the user's own account read every column.
		Computed{"followerCount": nil, "followingCount": nil, "viewerIsFollowing": nil, "memberCount": nil, "membershipPlan": nil},
		// Profiles are public (the email is guarded per field): a post's or comment's author is
		// read in their statement.
		Joined(true),
		// Query.users is hand-written (schema/user.graphqls), with the filters of internal/filter.
		gql.RelayConnection(),
	}
}

// Policy of the User: reads filtered by authz, writes denied unless an authz rule allows them.
func (User) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.UserWrites(), privacy.AlwaysDenyRule()},
	}
}
