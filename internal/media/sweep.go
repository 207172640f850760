package media

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/jobs"
)

// Sweep deletes the images nothing uses: released ones (replaced avatars and covers, images of
// deleted posts or removed from a body) and those not attached within UnattachedTTL. Files go
// first, then the row: a crash between the two leaves a row the next sweep deletes again, never a
// file without a row. It returns how many images it deleted.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	cutoff := s.now().Add(-s.opts.UnattachedTTL)
	n := 0
	for {
		imgs, err := s.client.Image.Query().
			Where(image.Or(image.ReleasedAtNotNil(), image.And(image.AttachedAtIsNil(), image.CreatedAtLT(cutoff)))).
			Limit(100).All(ctx)
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
