package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/riverqueue/river"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/jobs"
)

// ResizeArgs is the job that makes the smaller sizes of an image stored full size only.
type ResizeArgs struct {
	ImageID int `json:"image_id"`
}

// Kind is the job's kind.
func (ResizeArgs) Kind() string { return "media_resize" }

// UseJobs has uploads store the full image only and leave its smaller sizes to a media_resize
// job on q, inserted with the image's row, and released images deleted by a media_delete job
// inserted with the write that released them. Call it before q is opened.
func (s *Service) UseJobs(q *jobs.Queue) {
	s.queue = q
	jobs.AddWorker(q, &resizeWorker{s: s})
	jobs.AddWorker(q, &deleteWorker{s: s})
}

type resizeWorker struct {
	river.WorkerDefaults[ResizeArgs]
	s *Service
}

func (w *resizeWorker) Work(ctx context.Context, job *river.Job[ResizeArgs]) error {
	return w.s.ResizeImage(ctx, job.Args.ImageID)
}

// ResizeImage makes and stores the smaller sizes of image id, then marks it READY. It is
// idempotent: the sizes are made from the stored full image, which does not change, under fixed
// keys, so a run after a crash overwrites the same files with the same bytes. An image deleted
// meanwhile is left alone (and what this run stored for it removed).
func (s *Service) ResizeImage(ctx context.Context, id int) error {
	ctx = privacy.DecisionContext(ctx, privacy.Allow) // the system's own processing
	img, err := s.client.Image.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil || img.Status == image.StatusREADY {
		return err
	}
	full := img.Sizes[len(img.Sizes)-1]
	r, _, err := s.store.Get(ctx, fileKey(img.Key, full, img.Format))
	if errors.Is(err, ErrNotExist) {
		if gone, err := s.gone(ctx, id); gone || err != nil {
			return err
		}
		return fmt.Errorf("media: image %d has no stored file", id)
	}
	if err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return err
	}
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	vs, err := Resize(data, img.Format)
	<-s.decodes
	if err != nil {
		return err
	}
	total := int64(len(data)) // the full image; not the row's bytes, so that a rerun counts the same
	var keys []string
	widths := make([]int, 0, len(vs)+1)
	for _, v := range vs {
		k := fileKey(img.Key, v.Width, img.Format)
		if err := s.store.Put(ctx, k, bytes.NewReader(v.Data), int64(len(v.Data)), ContentType(img.Format)); err != nil {
			return fmt.Errorf("store %s: %w", k, err)
		}
		keys = append(keys, k)
		widths = append(widths, v.Width)
		total += int64(len(v.Data))
	}
	n, err := s.client.Image.Update().Where(image.ID(id), image.StatusEQ(image.StatusPROCESSING)).
		SetSizes(append(widths, full)).SetBytes(total).SetStatus(image.StatusREADY).Save(ctx)
	if err != nil || n > 0 {
		return err
	}
	if gone, err := s.gone(ctx, id); !gone || err != nil {
		return err
	}
	return s.store.Delete(ctx, keys...) // deleted while this ran: its sweep did not know these files
}

// gone reports whether image id has no row any more.
func (s *Service) gone(ctx context.Context, id int) (bool, error) {
	ok, err := s.client.Image.Query().Where(image.ID(id)).Exist(privacy.DecisionContext(ctx, privacy.Allow))
	return !ok, err
}
