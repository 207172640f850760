package media

import (
	"context"
	"time"

	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/ent/privacy"
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

// SweepEvery runs Sweep every interval until ctx ends, logging what it did: the periodic clean-up
// of a server.
func (s *Service) SweepEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("media: clean-up failed", "err", err, "deleted", n)
		case n > 0:
			s.log.Info("media: unused images deleted", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
