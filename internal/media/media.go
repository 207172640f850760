// Package media takes in images (sniffed, bounded, decoded and re-encoded without metadata, in
// several sizes), keeps their files in a Storage (a folder or an S3-compatible bucket), serves
// them, and deletes the ones nothing uses any more.
package media

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/ratelimit"
)

// Options are the limits and addresses of the image service.
type Options struct {
	Limits        Limits
	PerUser       ratelimit.Limit // uploads per user (e.g. 30/1h)
	QuotaBytes    int64           // storage all of a user's images may use
	BaseURL       string          // Agora's public address: /media URLs start with it
	PublicBaseURL string          // where public files are served from instead (a CDN in front of the bucket); empty: BaseURL/media
	SignedTTL     time.Duration   // how long a signed URL of a non-public image works
	UnattachedTTL time.Duration   // how long an image may stay unattached before the clean-up deletes it
	UploadTTL     time.Duration   // how long a direct-upload URL works
	// Sign is HMAC-SHA256 of label and msg under the server's keys, the current one first
	// (auth.Tokens.Derive): it signs URLs and upload IDs, and rotation keeps old ones valid.
	Sign func(label string, msg []byte) [][]byte
	// Decodes bounds the images decoded at once: each may hold MaxPixels×4 bytes.
	Decodes int
}

// Service is the image service.
type Service struct {
	client  *ent.Client
	store   Storage
	opts    Options
	limiter ratelimit.Limiter
	queue   *jobs.Queue // resizes in a job when set (UseJobs); in the request otherwise
	decodes chan struct{}
	log     *slog.Logger
	now     func() time.Time
}

// New returns a Service keeping files in store.
func New(client *ent.Client, store Storage, limiter ratelimit.Limiter, log *slog.Logger, o Options) *Service {
	if o.Decodes < 1 {
		o.Decodes = 2
	}
	return &Service{client: client, store: store, opts: o, limiter: limiter, decodes: make(chan struct{}, o.Decodes), log: log, now: time.Now}
}

// Store is where the files are.
func (s *Service) Store() Storage { return s.store }

// Quota is the storage a user's images may use.
func (s *Service) Quota() int64 { return s.opts.QuotaBytes }

// Upload takes in an image from the viewer: size is what the client declared (the bytes read are
// what counts).
func (s *Service) Upload(ctx context.Context, file io.Reader, purpose image.Purpose, alt *string) (*ent.Image, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	altText, err := checkAlt(alt)
	if err != nil {
		return nil, err
	}
	if err := s.take(ctx, v.UserID); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(file, s.opts.Limits.MaxBytes+1))
	if err != nil {
		return nil, apperr.InvalidField("file", "the file could not be read")
	}
	return s.keep(ctx, v.UserID, data, purpose, altText)
}

func checkAlt(alt *string) (string, error) {
	if alt == nil {
		return "", nil
	}
	if utf8.RuneCountInString(*alt) > 1000 {
		return "", apperr.OverLimit(apperr.Invalid, "alt", "maxLength", 1000, "must be at most 1000 characters")
	}
	return strings.TrimSpace(*alt), nil
}

func (s *Service) take(ctx context.Context, userID int) error {
	l := s.opts.PerUser
	return ratelimit.Take(ctx, s.limiter, "upload:user:"+strconv.Itoa(userID), l,
		fmt.Sprintf("too many image uploads: at most %s per user", l))
}

// keep processes data and keeps its files and row: nothing is stored when any step refuses.
func (s *Service) keep(ctx context.Context, owner int, data []byte, purpose image.Purpose, alt string) (*ent.Image, error) {
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	process := Process
	if s.queue != nil {
		process = Original
	}
	p, err := process(data, s.opts.Limits)
	<-s.decodes
	if err != nil {
		return nil, err
	}
	var total int64
	sizes := make([]int, len(p.Variants))
	for i, v := range p.Variants {
		total += int64(len(v.Data))
		sizes[i] = v.Width
	}
	used, err := s.Used(ctx, owner)
	if err != nil {
		return nil, err
	}
	if q := s.opts.QuotaBytes; used+total > q {
		return nil, apperr.OverLimit(apperr.TooLarge, "file", "storageQuotaBytes", q,
			"storage full: your images use %d of %d bytes and this one needs %d; delete posts or images to make room", used, q, total)
	}
	key := "images/" + randomName()
	var keys []string
	for _, v := range p.Variants {
		k := fileKey(key, v.Width, p.Format)
		if err := s.store.Put(ctx, k, bytes.NewReader(v.Data), int64(len(v.Data)), ContentType(p.Format)); err != nil {
			s.remove(keys)
			return nil, fmt.Errorf("store %s: %w", k, err)
		}
		keys = append(keys, k)
	}
	full := p.Variants[len(p.Variants)-1]
	status := image.StatusREADY
	if s.queue != nil && full.Width > Widths[0] {
		status = image.StatusPROCESSING
	}
	var img *ent.Image
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		img, err = tx.Image.Create().SetOwnerID(owner).SetPurpose(purpose).SetAlt(alt).SetKey(key).SetFormat(p.Format).
			SetWidth(full.Width).SetHeight(full.Height).SetSizes(sizes).SetBytes(total).SetColor(p.Color).SetStatus(status).Save(ctx)
		if err != nil || status == image.StatusREADY {
			return err
		}
		// With the row: a committed image always gets its sizes, a rolled-back one never a job.
		return s.queue.Insert(ctx, ResizeArgs{ImageID: img.ID}, nil)
	})
	if err != nil {
		s.remove(keys)
		return nil, err
	}
	return img.Unwrap(), nil
}

// remove deletes files whose row was not written; a failure is only logged (the files are
// unreachable, not exposed).
func (s *Service) remove(keys []string) {
	if len(keys) == 0 {
		return
	}
	if err := s.store.Delete(context.WithoutCancel(context.Background()), keys...); err != nil {
		s.log.Warn("media: stored files of a refused image were not deleted", "err", err)
	}
}

// Used is the storage a user's images use, in bytes.
func (s *Service) Used(ctx context.Context, userID int) (int64, error) {
	var rows []struct {
		Sum *int64 `json:"sum"`
	}
	err := s.client.Image.Query().Where(image.OwnerID(userID)).Aggregate(ent.Sum(image.FieldBytes)).
		Scan(privacy.DecisionContext(ctx, privacy.Allow), &rows)
	if err != nil || len(rows) == 0 || rows[0].Sum == nil {
		return 0, err
	}
	return *rows[0].Sum, nil
}

// SetHidden hides an image from everyone but its owner and moderators, or shows it again;
// moderators only.
func (s *Service) SetHidden(ctx context.Context, id int, hidden bool) (*ent.Image, error) {
	if !auth.FromContext(ctx).Moderator() {
		return nil, apperr.Forbiddenf("only moderators hide images")
	}
	var img *ent.Image
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		cur, err := tx.Image.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFoundf("image %d not found", id)
		}
		if err != nil {
			return err
		}
		upd := cur.Update()
		if hidden {
			upd.SetHiddenAt(s.now().UTC())
		} else {
			upd.ClearHiddenAt()
		}
		img, err = upd.Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return img.Unwrap(), nil
}

// fileKey is the key of one stored size.
func fileKey(key string, width int, format string) string {
	ext := "jpg"
	if format == "png" {
		ext = "png"
	}
	return fmt.Sprintf("%s/%d.%s", key, width, ext)
}

// Keys are every stored file of img.
func Keys(img *ent.Image) []string {
	keys := make([]string, len(img.Sizes))
	for i, w := range img.Sizes {
		keys[i] = fileKey(img.Key, w, img.Format)
	}
	return keys
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomName is 130 random bits: a file name nobody guesses.
func randomName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return lowerBase32.EncodeToString(b)
}

// sign is the signature of msg under the current key.
func (s *Service) sign(label, msg string) string {
	return base64.RawURLEncoding.EncodeToString(s.opts.Sign(label, []byte(msg))[0])
}

// verify checks sig against every key.
func (s *Service) verify(label, msg, sig string) bool {
	b, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	for _, want := range s.opts.Sign(label, []byte(msg)) {
		if hmac.Equal(b, want) {
			return true
		}
	}
	return false
}

// encodeToken is v as JSON and its signature.
func (s *Service) encodeToken(label string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	msg := base64.RawURLEncoding.EncodeToString(b)
	return msg + "." + s.sign(label, msg), nil
}

func (s *Service) decodeToken(label, tok string, v any) error {
	msg, sig, ok := strings.Cut(tok, ".")
	if !ok || !s.verify(label, msg, sig) {
		return errors.New("bad signature")
	}
	b, err := base64.RawURLEncoding.DecodeString(msg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
