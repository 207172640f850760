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
			Annotations(gql.OrderField("TITLE")),
		field.String("description").
			Default("").
			Comment("Short summary shown in lists, plain text."),
		field.Text("body").
			Default("").
			Comment("Content, in Markdown; null for a members-only post the viewer may not read.").
			Annotations(gql.Skip(gql.SkipType)),
		field.Enum("status").
			Values("DRAFT", "PUBLISHED").
			Annotations(Values{
				"DRAFT":     "Not published yet: only its author sees it.",
				"PUBLISHED": "Published: everyone sees it (unless a moderator hid it).",
			}).
			Default("DRAFT").
			Comment("DRAFT posts are visible to their author only."),
		field.Enum("visibility").
			Values("PUBLIC", "MEMBERS").
			Annotations(
				Values{
					"PUBLIC":  "Everyone who may see the post reads its body.",
					"MEMBERS": "Only the author's members (and the author, moderators and admins) read its body; others see the title, description and author.",
				},
				gql.Skip(gql.SkipWhereInput|gql.SkipOrderField),
			).
			Default("PUBLIC").
			Comment("Who reads the body: everyone, or the author's members."),
		field.Time("published_at").
			Optional().
			Nillable().
			Comment("When the post was first published; null for drafts.").
			Annotations(gql.OrderField("PUBLISHED_AT")),
		field.Time("hidden_at").
			Optional().
			Nillable().
			Comment("When a moderator hid it; hidden content is visible to its author and moderators only.").
			Annotations(gql.Skip(gql.SkipWhereInput | gql.SkipOrderField)),
		field.Int("cover_id").
			Optional().
			Nillable().
			Comment("ID of the cover image.").
			Annotations(gql.Skip(gql.SkipAll)),
		field.Int("author_id").
			Immutable().
			Comment("ID of the author.").
			Annotations(gql.Skip(gql.SkipAll)),
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
			Through("post_tags", PostTag.Type).
			Comment("Topics of the post, in name order."),
		// No ordering by the number of comments: entgql would count hidden ones too.
		edge.To("comments", Comment.Type).
			Comment("Comments on the post, oldest first by default.").
			Annotations(gql.RelayConnection(), entsql.OnDelete(entsql.Cascade)),
		edge.To("cover", Image.Type).
			Field("cover_id").
			Unique().
			Comment("The cover image; null when none, or when the viewer may not see it."),
		edge.To("images", Image.Type).
			Annotations(gql.Skip(gql.SkipAll)),
		edge.From("liked_by", User.Type).
			Ref("liked_posts").
			Through("likes", Like.Type).
			Annotations(gql.Skip(gql.SkipAll)),
	}
}

// Indexes of the Post. Besides the feed's (author_id, status, published_at), the lists' orders
// (id breaks ties, as pagination orders by it second; a B-tree serves both directions):
//   - posts: each order it offers; for signed-out visitors, whom privacy always shows published,
//     unhidden posts only, the default order also from a partial index of those posts;
//   - user.posts: its default order (id), CREATED_AT and PUBLISHED_AT (the profile page's); its
//     other orders read the author's posts through author_id and sort them.
func (Post) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "published_at"),
		index.Fields("author_id", "status", "published_at"),
		index.Fields("created_at", "id").StorageKey("post_list_created_at"),
		index.Fields("created_at", "id").StorageKey("post_list_public_created_at").
			Annotations(entsql.IndexWhere("status = 'PUBLISHED' AND hidden_at IS NULL")),
		index.Fields("updated_at", "id").StorageKey("post_list_updated_at"),
		index.Fields("title", "id").StorageKey("post_list_title"),
		index.Fields("published_at", "id").StorageKey("post_list_published_at"),
		index.Fields("author_id", "id").StorageKey("post_list_author_id"),
		index.Fields("author_id", "created_at", "id").StorageKey("post_list_author_id_created_at"),
		index.Fields("author_id", "published_at", "id").StorageKey("post_list_author_id_published_at"),
	}
}

// Annotations of the Post.
func (Post) Annotations() []schema.Annotation {
	return []schema.Annotation{
		Doc("An article written by a user: a draft (seen by its author only) until it is published."),
		// A members-only body is shown by its visibility and author (billing.CanRead).
		Computed{"likeCount": nil, "commentCount": nil, "viewerHasLiked": nil,
			"body": {"body", "visibility", "author_id"}, "viewerCanRead": {"visibility", "author_id"}},
		// Query.posts is hand-written (schema/post.graphqls), with the filters of internal/filter.
		gql.RelayConnection(),
	}
}

// Policy of the Post: reads filtered by authz, writes denied unless an authz rule allows them.
func (Post) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnPosts(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterPosts(), privacy.AlwaysAllowRule()},
	}
}
