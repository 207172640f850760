package media

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/loader"
)

// Prefix is the path /media serves files under.
const Prefix = "/media/"

// Public reports whether img is shown to everyone (anonymous viewers included): then its URLs are
// permanent and its files cacheable by anyone.
func (s *Service) Public(ctx context.Context, img *ent.Image) (bool, error) {
	// authz.VisibleImages for an anonymous viewer; only a post's image needs a query (its post).
	switch {
	case img.HiddenAt != nil || img.AttachedAt == nil || img.ReleasedAt != nil:
		return false, nil
	case img.Purpose == image.PurposeAVATAR:
		return true, nil
	case img.PostID == nil:
		return false, nil
	}
	// In a request, the post through its loader: one query for the images of a whole list.
	if l := loader.For(ctx); l != nil {
		p, err := l.PostByID().Load(ctx, *img.PostID)
		if err != nil || p == nil {
			return false, err
		}
		// A MEMBERS post's body images are its readers' (authz.ReadableBodies): signed URLs only.
		return p.Status == post.StatusPUBLISHED && p.HiddenAt == nil &&
			(img.Purpose != image.PurposePOST_INLINE || p.Visibility == post.VisibilityPUBLIC), nil
	}
	return s.client.Image.Query().Where(image.ID(img.ID)).Exist(auth.WithViewer(ctx, auth.Viewer{}))
}

// pick is the stored width at least width wide, or the largest; the full image when width is 0.
func pick(img *ent.Image, width int) int {
	if len(img.Sizes) == 0 {
		return 0
	}
	if width > 0 {
		for _, w := range img.Sizes {
			if w >= width {
				return w
			}
		}
	}
	return img.Sizes[len(img.Sizes)-1]
}

// URL is where the viewer fetches img at width (see pick). A public image has a permanent URL
// (PublicBaseURL's, when set); any other a signed one that expires within SignedTTL, minted only
// for a viewer who can read img (ent privacy let it through).
func (s *Service) URL(ctx context.Context, img *ent.Image, width int) (string, error) {
	public, err := s.Public(ctx, img)
	if err != nil {
		return "", err
	}
	return s.fileURL(img, pick(img, width), public), nil
}

// VariantURL is a stored size and its URL.
type VariantURL struct {
	Width, Height int
	URL           string
}

// Variants are every stored size of img with its URL, smallest first.
func (s *Service) Variants(ctx context.Context, img *ent.Image) ([]*VariantURL, error) {
	public, err := s.Public(ctx, img)
	if err != nil {
		return nil, err
	}
	out := make([]*VariantURL, len(img.Sizes))
	for i, w := range img.Sizes {
		h := img.Height
		if img.Width > 0 {
			h = max(1, (img.Height*w+img.Width/2)/img.Width)
		}
		out[i] = &VariantURL{Width: w, Height: h, URL: s.fileURL(img, w, public)}
	}
	return out, nil
}

// PublicURL is the permanent URL of img at width: for avatars, which are public once set.
func (s *Service) PublicURL(img *ent.Image, width int) string {
	return s.fileURL(img, pick(img, width), true)
}

func (s *Service) fileURL(img *ent.Image, width int, public bool) string {
	key := fileKey(img.Key, width, img.Format)
	if public {
		if base := s.opts.PublicBaseURL; base != "" {
			return strings.TrimRight(base, "/") + "/" + key
		}
		return s.opts.BaseURL + Prefix + key
	}
	// Rounded down to a quarter of the lifetime: URLs minted within one quarter are equal, so a
	// browser's cache serves repeated reads; each works for at least three quarters of it.
	ttl := s.opts.SignedTTL
	exp := s.now().Add(ttl).Truncate(max(ttl/4, time.Second)).Unix()
	q := url.Values{"exp": {strconv.FormatInt(exp, 10)}, "sig": {s.sign("media-url", fmt.Sprintf("%s\n%d", key, exp))}}
	return s.opts.BaseURL + Prefix + key + "?" + q.Encode()
}

// File is a stored file ready to serve.
type File struct {
	Key         string
	ContentType string
	Public      bool      // anyone may read and cache it
	Expires     time.Time // for a signed URL, when it stops working
}

// Lookup decides whether the file at key (the path under Prefix) is served to a request with
// query (exp and sig of a signed URL): nil, nil when not. Only keys of images that exist and
// files they have are served.
func (s *Service) Lookup(ctx context.Context, key string, query url.Values) (*File, error) {
	dir, ok := imageKey(key)
	if !ok {
		return nil, nil
	}
	img, err := s.client.Image.Query().Where(image.Key(dir)).Only(privacy.DecisionContext(ctx, privacy.Allow))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	known := false
	for _, k := range Keys(img) {
		known = known || k == key
	}
	if !known {
		return nil, nil
	}
	f := &File{Key: key, ContentType: ContentType(img.Format)}
	if f.Public, err = s.Public(ctx, img); err != nil || f.Public {
		return f, err
	}
	exp, err := strconv.ParseInt(query.Get("exp"), 10, 64)
	if err != nil || !s.verify("media-url", fmt.Sprintf("%s\n%d", key, exp), query.Get("sig")) || s.now().Unix() > exp {
		return nil, nil
	}
	f.Expires = time.Unix(exp, 0)
	return f, nil
}

// imageKey is the image's key (images/<name>) of a file's key (images/<name>/<file>).
func imageKey(key string) (string, bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 || !strings.HasPrefix(key, "images/") || strings.Count(key, "/") != 2 {
		return "", false
	}
	return key[:i], true
}
