package media

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/jobs"
)

// Sweep deletes the images nothing uses: released ones (replaced avatars and covers, images of
// deleted posts or removed from a body) and those not attached within UnattachedTTL. Files go
// first, then the row: a crash between the two leaves a row the next sweep deletes again, never a
// file without a row. It returns how many images it deleted.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.opts.UnattachedTTL)
	n, err := s.purge(ctx, image.Or(image.ReleasedAtNotNil(), image.And(image.AttachedAtIsNil(), image.CreatedAtLT(cutoff))))
	if err != nil {
		return n, err
	}
	return n, s.sweepIncoming(ctx)
}

// sweepIncoming deletes the files of direct uploads never completed: CompleteUpload takes a file
// until UploadTTL after its URL expired, so one older than twice UploadTTL is nobody's.
func (s *Service) sweepIncoming(ctx context.Context) error {
	for {
		keys, err := s.store.Stale(ctx, incoming, s.now().Add(-2*s.opts.UploadTTL), 1000)
		if err != nil || len(keys) == 0 {
			return err
		}
		if err := s.store.Delete(ctx, keys...); err != nil {
			return err
		}
		s.log.Info("media: stale direct uploads deleted", "deleted", len(keys))
		if len(keys) < 1000 {
			return nil
		}
	}
}

// purge deletes the images where holds, files first: see Sweep.
func (s *Service) purge(ctx context.Context, where predicate.Image) (int, error) {
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	n := 0
	for {
		imgs, err := s.client.Image.Query().Where(where).Limit(100).All(ctx)
		if err != nil || len(imgs) == 0 {
			return n, err
		}
		for _, img := range imgs {
			if err := s.store.Delete(ctx, Keys(img)...); err != nil {
				return n, err
			}
			if err := s.client.Image.DeleteOneID(img.ID).Exec(ctx); err != nil {
				return n, err
			}
			n++
		}
	}
}

// SweepArgs is the periodic job that runs Sweep.
type SweepArgs struct{}

// Kind is the job's kind.
func (SweepArgs) Kind() string { return "media_sweep" }

// AddSweep schedules Sweep on q every interval: River runs a periodic job in one process of those
// sharing the database, and a sweep that fails is retried like any job.
func (s *Service) AddSweep(q *jobs.Queue, every time.Duration) {
	jobs.AddWorker(q, &sweepWorker{s: s})
	q.AddPeriodic(every, func() river.JobArgs { return SweepArgs{} })
}

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	n, err := w.s.Sweep(ctx)
	if n > 0 {
		w.s.log.Info("media: unused images deleted", "deleted", n)
	}
	return err
}

// DeleteArgs is the job that deletes released images, inserted with the write that released
// them (a replaced avatar, a removed cover, a deleted post).
type DeleteArgs struct {
	ImageIDs []int `json:"image_ids"`
}

// Kind is the job's kind.
func (DeleteArgs) Kind() string { return "media_delete" }

type deleteWorker struct {
	river.WorkerDefaults[DeleteArgs]
	s *Service
}

// Work deletes the files of every size, then the row, of the images still released: a rerun
// finds the ones already gone missing and deletes nothing twice.
func (w *deleteWorker) Work(ctx context.Context, job *river.Job[DeleteArgs]) error {
	_, err := w.s.purge(ctx, image.And(image.IDIn(job.Args.ImageIDs...), image.ReleasedAtNotNil()))
	return err
}
