package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/schema/gql"
	"github.com/agora/agora/internal/authz"
)

// Tag is a topic posts are filed under.
type Tag struct{ ent.Schema }

// Fields of the Tag.
func (Tag) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").
			Unique().
			MinLen(1).MaxLen(32).
			Comment("Normalized name: lower case a-z, 0-9 and single dashes.").
			Annotations(gql.OrderField("NAME")),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Comment("When the tag was first used."),
	}
}

// Edges of the Tag.
func (Tag) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("posts", Post.Type).
			Ref("tags").
			Through("post_tags", PostTag.Type).
			Comment("Posts filed under the tag.").
			Annotations(gql.RelayConnection()),
	}
}

// Annotations of the Tag.
func (Tag) Annotations() []schema.Annotation {
	return []schema.Annotation{
		Doc("A topic posts are filed under; tags used only on posts the viewer cannot see are hidden."),
		Computed{"postCount": nil},
		// Query.tags is hand-written (schema/post.graphqls), with the filters of internal/filter.
		gql.RelayConnection(),
	}
}

// Policy of the Tag: reads filtered by authz, writes denied unless an authz rule allows them.
func (Tag) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.TagWrites(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterUnusedTags(), privacy.AlwaysAllowRule()},
	}
}
