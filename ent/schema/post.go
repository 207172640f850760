package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/authz"
)

// Post is an article written by a user: a draft until it is published.
type Post struct{ ent.Schema }

// Mixin of the Post.
func (Post) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Post.
func (Post) Fields() []ent.Field {
	return []ent.Field{
		field.String("slug").
			Unique().
			Immutable().
			MaxLen(120).
			Comment("URL-safe unique name derived from the title when the post is created; it never changes."),
		field.String("title").
			NotEmpty().
			Comment("Title, plain text.").
			Annotations(entgql.OrderField("TITLE")),
		field.String("description").
			Default("").
			Comment("Short summary shown in lists, plain text."),
		field.Text("body").
			Default("").
			Comment("Content, in Markdown."),
		field.Enum("status").
			Values("DRAFT", "PUBLISHED").
			Annotations(Values{
				"DRAFT":     "Not published yet: only its author sees it.",
				"PUBLISHED": "Published: everyone sees it (unless a moderator hid it).",
			}).
			Default("DRAFT").
			Comment("DRAFT posts are visible to their author only."),
		field.Time("published_at").
			Optional().
			Nillable().
			Comment("When the post was first published; null for drafts.").
			Annotations(entgql.OrderField("PUBLISHED_AT")),
		field.Time("hidden_at").
			Optional().
			Nillable().
			Comment("When a moderator hid it; hidden content is visible to its author and moderators only.").
			Annotations(entgql.Skip(entgql.SkipWhereInput | entgql.SkipOrderField)),
		field.Int("author_id").
			Immutable().
			Comment("ID of the author.").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Post.
func (Post) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("author", User.Type).
			Ref("posts").
			Field("author_id").
			Unique().
			Required().
			Immutable().
			Comment("Who wrote the post."),
		edge.To("tags", Tag.Type).
			Comment("Topics of the post, in name order.").
			Through("post_tags", PostTag.Type),
		// No ordering by the number of comments: entgql would count hidden ones too.
		edge.To("comments", Comment.Type).
			Comment("Comments on the post, oldest first by default.").
			Annotations(entgql.RelayConnection(), entsql.OnDelete(entsql.Cascade)),
		edge.From("liked_by", User.Type).
			Ref("liked_posts").
			Through("likes", Like.Type).
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Post, with one for each filter of posts(where:) (internal/filter): an author's
// posts newest first, creation-time ranges (and the default order, newest first), and
// publication-time ranges.
func (Post) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "published_at"),
		index.Fields("author_id", "status", "published_at"),
		index.Fields("author_id", "created_at"),
		index.Fields("created_at", "id"),
		index.Fields("published_at"),
	}
}

// Annotations of the Post.
func (Post) Annotations() []schema.Annotation {
	return []schema.Annotation{
		Doc("An article written by a user: a draft (seen by its author only) until it is published."),
		// Query.posts is hand-written (schema/post.graphqls), with the filters of internal/filter.
		entgql.RelayConnection(),
	}
}

// Policy of the Post: reads filtered by authz, writes denied unless an authz rule allows them.
func (Post) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnPosts(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterPosts(), privacy.AlwaysAllowRule()},
	}
}

// PostTag files a post under a tag: the rows of the Post.tags edge, an edge schema so that the
// table can carry the index that finds a tag's posts (the primary key serves a post's tags).
type PostTag struct{ ent.Schema }

// Annotations of the PostTag.
func (PostTag) Annotations() []schema.Annotation {
	return []schema.Annotation{field.ID("post_id", "tag_id"), entgql.Skip(entgql.SkipAll)}
}

// Fields of the PostTag.
func (PostTag) Fields() []ent.Field {
	return []ent.Field{field.Int("post_id"), field.Int("tag_id")}
}

// Edges of the PostTag.
func (PostTag) Edges() []ent.Edge {
	return []ent.Edge{
		// The foreign keys keep the names they had when the table was a plain many-to-many one.
		edge.To("post", Post.Type).Field("post_id").Unique().Required().
			StorageKey(edge.Symbol("post_tags_post_id")).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("tag", Tag.Type).Field("tag_id").Unique().Required().
			StorageKey(edge.Symbol("post_tags_tag_id")).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the PostTag: a tag's posts (posts(where: {tags:}), Tag.posts, Tag.postCount).
func (PostTag) Indexes() []ent.Index {
	return []ent.Index{index.Fields("tag_id", "post_id")}
}

// Policy of the PostTag: the rows are written through their post's mutations (checked by the Post
// policy) and read through its edges, never on their own: a draft's tags are its author's.
func (PostTag) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
	}
}
