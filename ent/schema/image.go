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

// Image is a picture a user uploaded, decoded and re-encoded (no metadata kept), with its resized
// variants in storage under Key.
type Image struct{ ent.Schema }

// Mixin of the Image.
func (Image) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Image.
func (Image) Fields() []ent.Field {
	return []ent.Field{
		field.Int("owner_id").
			Immutable().
			Comment("Who uploaded it.").
			Annotations(gql.Skip(gql.SkipAll)),
		field.Enum("purpose").
			Values("AVATAR", "POST_COVER", "POST_INLINE").
			Annotations(Values{
				"AVATAR":      "A profile picture: public once set.",
				"POST_COVER":  "A post's cover: seen by those who see the post.",
				"POST_INLINE": "An image in a post's body: seen by those who see the post.",
			}).
			Immutable().
			Comment("What the image is for."),
		field.String("alt").
			Default("").
			MaxLen(1000).
			Comment("Text alternative, for those who cannot see the image."),
		field.String("key").
			Unique().
			Immutable().
			Annotations(gql.Skip(gql.SkipAll)).
			Comment("Storage prefix of its files: random, unguessable."),
		field.String("format").
			Annotations(gql.Skip(gql.SkipAll)).
			Comment("Encoding of the stored files: jpeg or png."),
		field.Int("width").
			Comment("Width of the largest stored size, in pixels."),
		field.Int("height").
			Comment("Height of the largest stored size, in pixels."),
		field.Ints("sizes").
			Annotations(gql.Skip(gql.SkipAll)).
			Comment("Widths of the stored variants, smallest first; the last is the full image."),
		field.Enum("status").
			Values("PROCESSING", "READY").
			Default("READY").
			Annotations(Values{
				"PROCESSING": "Only the full image is stored: its smaller sizes are being made.",
				"READY":      "Every size is stored.",
			}, gql.Skip(gql.SkipWhereInput|gql.SkipOrderField)).
			Comment("Whether its resized variants are made yet: until then variants and url give the full image."),
		field.Int64("bytes").
			Annotations(gql.Skip(gql.SkipWhereInput | gql.SkipOrderField)).
			Comment("Storage used by all its files, in bytes."),
		field.String("color").
			Annotations(gql.Skip(gql.SkipWhereInput | gql.SkipOrderField)).
			Comment("Dominant colour as #rrggbb: a placeholder while the image loads."),
		field.Time("attached_at").
			Optional().
			Nillable().
			Annotations(gql.Skip(gql.SkipAll)).
			Comment("When it became an avatar or part of a post; unattached images are deleted after a day."),
		field.Time("released_at").
			Optional().
			Nillable().
			Annotations(gql.Skip(gql.SkipAll)).
			Comment("When it stopped being used (avatar replaced, cover replaced, post deleted): deleted by the clean-up."),
		field.Time("hidden_at").
			Optional().
			Nillable().
			Annotations(gql.Skip(gql.SkipWhereInput | gql.SkipOrderField)).
			Comment("When a moderator hid it; a hidden image is served to its owner and moderators only."),
		field.Int("post_id").
			Optional().
			Nillable().
			Annotations(gql.Skip(gql.SkipAll)).
			Comment("The post it illustrates, as cover or inline."),
	}
}

// Edges of the Image.
func (Image) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", User.Type).
			Ref("images").
			Field("owner_id").
			Unique().
			Required().
			Immutable().
			Annotations(gql.Skip(gql.SkipAll)),
		edge.From("post", Post.Type).
			Ref("images").
			Field("post_id").
			Unique().
			Annotations(gql.Skip(gql.SkipAll)),
	}
}

// Indexes of the Image: the clean-up's two sweeps, a user's storage total, the page's lookups.
func (Image) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner_id", "created_at"),
		index.Fields("attached_at", "created_at"),
		index.Fields("released_at"),
		index.Fields("post_id"),
	}
}

// Annotations of the Image.
func (Image) Annotations() []schema.Annotation {
	return []schema.Annotation{
		Doc("An uploaded picture: decoded and re-encoded without its metadata, stored in several sizes."),
	}
}

// Policy of the Image: reads filtered by authz, writes by the owner (moderators hide).
func (Image) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{authz.RequireWriter(), authz.OwnImages(), privacy.AlwaysDenyRule()},
		Query:    privacy.QueryPolicy{authz.FilterImages(), privacy.AlwaysAllowRule()},
	}
}
