package media

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
)

// A direct upload goes to the store, not through Agora: the client PUTs the file to a presigned URL
// under incoming/, then completeImageUpload processes it like an upload through GraphQL. Its ID is
// signed, so Agora keeps no state between the two calls.
type upload struct {
	User    int           `json:"u"`
	Purpose image.Purpose `json:"p"`
	Alt     string        `json:"a"`
	Key     string        `json:"k"`
	Size    int64         `json:"s"`
	Expires int64         `json:"e"`
}

// incoming is the prefix of direct uploads' files, until CompleteUpload processes them.
const incoming = "incoming/"

// DirectUpload is where to PUT a file.
type DirectUpload struct {
	ID        string
	URL       string
	ExpiresAt time.Time
}

// CreateUpload signs a PUT of exactly size bytes for the viewer. The upload counts against the
// hourly budget now, as an upload through GraphQL does.
func (s *Service) CreateUpload(ctx context.Context, purpose image.Purpose, alt *string, size int64) (*DirectUpload, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	altText, err := checkAlt(alt)
	if err != nil {
		return nil, err
	}
	if max := s.opts.Limits.MaxBytes; size > max {
		return nil, apperr.OverLimit(apperr.TooLarge, "size", "maxBytes", max, "the image is larger than %d bytes", max)
	}
	if size < 1 {
		return nil, apperr.InvalidField("size", "must be the file's size in bytes")
	}
	if err := s.take(ctx, v.UserID); err != nil {
		return nil, err
	}
	exp := s.now().Add(s.opts.UploadTTL)
	u := upload{User: v.UserID, Purpose: purpose, Alt: altText, Key: incoming + randomName(), Size: size, Expires: exp.Unix()}
	url, err := s.store.PresignPut(ctx, u.Key, size, s.opts.UploadTTL)
	if errors.Is(err, ErrNoPresign) {
		return nil, apperr.InvalidField("size", "direct uploads need S3-compatible storage (STORAGE_URL): upload with uploadImage")
	}
	if err != nil {
		return nil, err
	}
	id, err := s.encodeToken("media-upload", u)
	if err != nil {
		return nil, err
	}
	return &DirectUpload{ID: id, URL: url, ExpiresAt: exp.UTC().Truncate(time.Second)}, nil
}

// CompleteUpload processes the file PUT for upload id, by the viewer who created it, and deletes
// the incoming file whatever the outcome.
func (s *Service) CompleteUpload(ctx context.Context, id string) (*ent.Image, error) {
	v := auth.FromContext(ctx)
	var u upload
	if err := s.decodeToken("media-upload", id, &u); err != nil || u.User != v.UserID || !v.Authenticated() {
		return nil, apperr.InvalidField("uploadID", "not an upload of yours")
	}
	// A file PUT just before the URL expired is still taken for a while.
	if s.now().After(time.Unix(u.Expires, 0).Add(s.opts.UploadTTL)) {
		return nil, apperr.InvalidField("uploadID", "the upload expired: start another")
	}
	r, _, err := s.store.Get(ctx, u.Key)
	if errors.Is(err, ErrNotExist) {
		return nil, apperr.InvalidField("uploadID", "no file was uploaded yet: PUT it to the upload URL first")
	}
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, s.opts.Limits.MaxBytes+1))
	r.Close()
	defer s.remove([]string{u.Key})
	if err != nil {
		return nil, err
	}
	return s.keep(ctx, u.User, data, u.Purpose, u.Alt)
}
