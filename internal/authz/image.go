package authz

import (
	"context"

	"entgo.io/ent/dialect/sql"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/auth"
)

// VisibleImages is the filter for images the viewer may see: their own; for moderators every
// image; for others unhidden images that are an avatar in use, a post's cover where the viewer
// sees the post, or an image in a post's body where the viewer reads the body (a MEMBERS post's
// images are its members'). An image not attached yet is its owner's alone.
func VisibleImages(ctx context.Context) predicate.Image {
	v := auth.FromContext(ctx)
	if v.Moderator() {
		return func(*sql.Selector) {}
	}
	shown := image.And(image.HiddenAtIsNil(), image.AttachedAtNotNil(), image.ReleasedAtIsNil(),
		image.Or(image.PurposeEQ(image.PurposeAVATAR),
			image.And(image.PurposeEQ(image.PurposePOST_COVER), image.HasPostWith(visiblePosts(ctx))),
			image.And(image.PurposeEQ(image.PurposePOST_INLINE), image.HasPostWith(visiblePosts(ctx), ReadableBodies(ctx)))))
	if !v.Authenticated() {
		return shown
	}
	return image.Or(shown, image.OwnerID(v.UserID))
}

// FilterImages hides from every image query the images VisibleImages leaves out.
func FilterImages() privacy.QueryRule {
	return privacy.ImageQueryRuleFunc(func(ctx context.Context, q *ent.ImageQuery) error {
		q.Where(VisibleImages(ctx))
		return privacy.Skip
	})
}

// OwnImages lets users upload images as themselves and change or delete their own; moderators may
// hide, show or delete any image, and only they hide or show one.
func OwnImages() privacy.MutationRule {
	return privacy.ImageMutationRuleFunc(func(ctx context.Context, m *ent.ImageMutation) error {
		v := auth.FromContext(ctx)
		if m.Op().Is(ent.OpCreate) {
			if id, _ := m.OwnerID(); id != v.UserID {
				return privacy.Denyf("images are uploaded by their owner")
			}
			return privacy.Allow
		}
		if v.Moderator() {
			return privacy.Allow
		}
		if _, hides := m.HiddenAt(); hides || m.HiddenAtCleared() {
			return privacy.Denyf("only moderators hide or show images")
		}
		m.Where(image.OwnerID(v.UserID))
		return privacy.Allow
	})
}
