package media

import (
	"context"
	"regexp"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/internal/apperr"
)

// The functions below run inside the caller's transaction (tx), as the viewer: ent privacy lets
// a user attach and release their own images only.

// attachable loads image id for field, which must be the viewer's, of purpose, and unused or
// already attached to post (nil: to nothing).
func attachable(ctx context.Context, tx *ent.Tx, field string, id int, purpose image.Purpose, post *int) (*ent.Image, error) {
	img, err := tx.Image.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, &apperr.Error{Kind: apperr.NotFound, Field: field, Message: "image not found"}
	}
	if err != nil {
		return nil, err
	}
	switch {
	case img.Purpose != purpose:
		return nil, apperr.InvalidField(field, "the image was uploaded as %s, not %s", img.Purpose, purpose)
	case img.ReleasedAt != nil:
		return nil, apperr.InvalidField(field, "the image is no longer in use and is being deleted: upload it again")
	case img.AttachedAt != nil && (post == nil || img.PostID == nil || *img.PostID != *post):
		return nil, apperr.InvalidField(field, "the image is already in use elsewhere: upload it again")
	}
	return img, nil
}

// AttachAvatar makes image id (an AVATAR of the viewer's) their avatar, releasing previous.
func (s *Service) AttachAvatar(ctx context.Context, tx *ent.Tx, id int, previous *int) (*ent.Image, error) {
	if previous != nil && *previous == id {
		return tx.Image.Get(ctx, id)
	}
	img, err := attachable(ctx, tx, "avatarImageID", id, image.PurposeAVATAR, nil)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if img, err = img.Update().SetAttachedAt(now).Save(ctx); err != nil {
		return nil, err
	}
	if previous != nil {
		if err := s.release(ctx, tx, image.ID(*previous)); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// ReleaseImage lets the clean-up delete a removed avatar or cover.
func (s *Service) ReleaseImage(ctx context.Context, tx *ent.Tx, id int) error {
	return s.release(ctx, tx, image.ID(id))
}

// AttachCover makes image id (a POST_COVER of the viewer's) the cover of post, releasing
// previous.
func (s *Service) AttachCover(ctx context.Context, tx *ent.Tx, post, id int, previous *int) error {
	if previous != nil && *previous == id {
		return nil
	}
	img, err := attachable(ctx, tx, "coverImageID", id, image.PurposePOST_COVER, &post)
	if err != nil {
		return err
	}
	if err := img.Update().SetAttachedAt(time.Now().UTC()).SetPostID(post).Exec(ctx); err != nil {
		return err
	}
	if previous != nil {
		return s.release(ctx, tx, image.ID(*previous))
	}
	return nil
}

// inlineRef finds the images a Markdown body shows: URLs whose path is /media/images/<name>/….
var inlineRef = regexp.MustCompile(`/media/(images/[a-z2-7]{26})/`)

// AttachInline attaches to post the viewer's POST_INLINE images its body refers to, and releases
// the ones attached before that it no longer refers to. Images of others, or of another purpose,
// are left as they are: a body may link to any image it likes.
func (s *Service) AttachInline(ctx context.Context, tx *ent.Tx, post int, body string) error {
	var keys []string
	for _, m := range inlineRef.FindAllStringSubmatch(body, 100) {
		keys = append(keys, m[1])
	}
	now := time.Now().UTC()
	if len(keys) > 0 {
		err := tx.Image.Update().
			Where(image.KeyIn(keys...), image.PurposeEQ(image.PurposePOST_INLINE), image.ReleasedAtIsNil(),
				image.Or(image.AttachedAtIsNil(), image.PostID(post))).
			SetAttachedAt(now).SetPostID(post).Exec(ctx)
		if err != nil {
			return err
		}
	}
	return s.release(ctx, tx, image.PostID(post), image.PurposeEQ(image.PurposePOST_INLINE), image.KeyNotIn(keys...))
}

// ReleasePost lets the clean-up delete the images of a post about to be deleted.
func (s *Service) ReleasePost(ctx context.Context, tx *ent.Tx, post int) error {
	return s.release(ctx, tx, image.PostID(post))
}

// release marks the images where holds as unused and, with a job queue, inserts the
// media_delete job that deletes them in the same transaction: the write that drops an image
// always gets its deletion. Without a queue (s nil) the periodic sweep deletes them.
func (s *Service) release(ctx context.Context, tx *ent.Tx, where ...predicate.Image) error {
	where = append(where, image.ReleasedAtIsNil())
	var ids []int
	if s != nil && s.queue != nil {
		var err error
		if ids, err = tx.Image.Query().Where(where...).IDs(ctx); err != nil || len(ids) == 0 {
			return err
		}
		where = []predicate.Image{image.IDIn(ids...), image.ReleasedAtIsNil()}
	}
	if err := tx.Image.Update().Where(where...).SetReleasedAt(time.Now().UTC()).Exec(ctx); err != nil || len(ids) == 0 {
		return err
	}
	return s.queue.Insert(ctx, DeleteArgs{ImageIDs: ids}, nil)
}
