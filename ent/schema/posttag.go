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

// PostTag files a post under a tag: the table of the Post.tags edge, declared so that it can carry
// an index by tag (tag.posts, a tag's post count, hiding unused tags). Rows are written through the
// post's own, checked, mutation (AddTags), never directly.
type PostTag struct{ ent.Schema }

// Fields of the PostTag.
func (PostTag) Fields() []ent.Field {
	return []ent.Field{
		field.Int("post_id"),
		field.Int("tag_id"),
	}
}

// Edges of the PostTag.
func (PostTag) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("post", Post.Type).Field("post_id").Unique().Required().StorageKey(edge.Symbol("post_tags_post_id")).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("tag", Tag.Type).Field("tag_id").Unique().Required().StorageKey(edge.Symbol("post_tags_tag_id")).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the PostTag: the primary key finds a post's tags; this one a tag's posts.
func (PostTag) Indexes() []ent.Index {
	return []ent.Index{index.Fields("tag_id", "post_id").StorageKey("post_tag_list_tag_id")}
}

// Annotations of the PostTag.
func (PostTag) Annotations() []schema.Annotation {
	return []schema.Annotation{
		field.ID("post_id", "tag_id"),
		gql.Skip(gql.SkipAll),
	}
}

// Policy of the PostTag: no direct writes; posts link their tags through their own mutation.
func (PostTag) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()}}
}
