package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/agora/agora/ent/privacy"
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
			Annotations(entgql.Skip(entgql.SkipWhereInput | entgql.SkipOrderField)),
		field.Int("author_id").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("post_id").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
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

// Indexes of the Comment.
func (Comment) Indexes() []ent.Index {
	return []ent.Index{index.Fields("post_id", "created_at")}
}

// Annotations of the Comment.
func (Comment) Annotations() []schema.Annotation {
	return []schema.Annotation{
		Doc("A reply to a post, visible to whoever may see the post."), entgql.RelayConnection()}
}

// Policy of the Comment: reads filtered by authz, writes denied unless an authz rule allows them.
func (Comment) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnComments(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterComments(), privacy.AlwaysAllowRule()},
	}
}
