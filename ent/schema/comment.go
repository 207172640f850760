package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/schema/gql"
	"github.com/agora/agora/internal/authz"
)

// Comment is a reply to a post.
type Comment struct{ ent.Schema }

// Mixin of the Comment.
func (Comment) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Comment.
func (Comment) Fields() []ent.Field {
	return []ent.Field{
		field.Text("body").
			NotEmpty().
			Comment("Content, in Markdown."),
		field.Time("hidden_at").
			Optional().
			Nillable().
			Comment("When a moderator hid it; hidden content is visible to its author and moderators only.").
			Annotations(gql.Skip(gql.SkipWhereInput | gql.SkipOrderField)),
		field.Int("author_id").Immutable().Annotations(gql.Skip(gql.SkipAll)),
		field.Int("post_id").Immutable().Annotations(gql.Skip(gql.SkipAll)),
		// Privacy reads it instead of the post, so that a page of comments is read from the comments'
		// index alone; triggers of the migrations (20261204145943_list_indexes.sql) copy it from the
		// post when the comment is written and when the post's status or hidden_at changes. Whatever a
		// writer sets is replaced; DRAFT, the default, shows the comment to no one but the post's author.
		field.Enum("post_visibility").
			Values("PUBLIC", "HIDDEN", "DRAFT").
			Default("DRAFT").
			Immutable().
			Comment("Who may see the post: PUBLIC (published, not hidden), HIDDEN (published, hidden by a moderator) or DRAFT; kept by the database.").
			Annotations(gql.Skip(gql.SkipAll)),
	}
}

// Edges of the Comment.
func (Comment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("author", User.Type).
			Ref("comments").
			Field("author_id").
			Unique().Required().Immutable().
			Comment("Who wrote the comment."),
		edge.From("post", Post.Type).
			Ref("comments").
			Field("post_id").
			Unique().Required().Immutable().
			Comment("The post commented on."),
	}
}

// Indexes of the Comment: a post's comments in each order Post.comments offers (ID by default,
// CREATED_AT); id breaks ties, as pagination orders by it second.
func (Comment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("post_id", "id").StorageKey("comment_list_post_id"),
		index.Fields("post_id", "created_at", "id").StorageKey("comment_list_post_id_created_at"),
	}
}

// Annotations of the Comment.
func (Comment) Annotations() []schema.Annotation {
	return []schema.Annotation{
		Doc("A reply to a post, visible to whoever may see the post."), gql.RelayConnection()}
}

// Policy of the Comment: reads filtered by authz, writes denied unless an authz rule allows them.
func (Comment) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnComments(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterComments(), privacy.AlwaysAllowRule()},
	}
}
