package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/accounttoken"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/session"
	"github.com/agora/agora/ent/signinflow"
)

// CleanupArgs is the periodic clean-up of rows nothing needs any more.
type CleanupArgs struct{}

// Kind is the job's kind.
func (CleanupArgs) Kind() string { return "cleanup" }

// Retention is how long the clean-up keeps what it removes.
type Retention struct {
	// Sessions that expired or were revoked are kept this long (a day by default) before they and
	// their refresh tokens go: a refresh with a stale token finds no session either way.
	Sessions time.Duration
	// ReadNotifications are kept this long after they were read (AGORA_NOTIFICATION_RETENTION);
	// unread ones are kept.
	ReadNotifications time.Duration
}

// AddCleanup schedules the clean-up every interval (and at start) on client.
func (q *Queue) AddCleanup(client *ent.Client, every time.Duration, keep Retention) {
	if keep.Sessions <= 0 {
		keep.Sessions = 24 * time.Hour
	}
	AddWorker(q, &cleanupWorker{client: client, keep: keep})
	q.AddPeriodic(every, func() river.JobArgs { return CleanupArgs{} })
}

type cleanupWorker struct {
	river.WorkerDefaults[CleanupArgs]
	client *ent.Client
	keep   Retention
}

// Work deletes in bounded statements by time: each predicate is on an indexed or small set, and a
// run that dies half-way is finished by the next.
func (w *cleanupWorker) Work(ctx context.Context, _ *river.Job[CleanupArgs]) error {
	ctx = privacy.DecisionContext(ctx, privacy.Allow) // the system's own housekeeping
	now := time.Now().UTC()
	before := now.Add(-w.keep.Sessions)
	// Refresh tokens go with their session (ON DELETE CASCADE).
	if _, err := w.client.Session.Delete().Where(session.Or(session.ExpiresAtLT(before), session.RevokedAtLT(before))).Exec(ctx); err != nil {
		return fmt.Errorf("cleanup sessions: %w", err)
	}
	// Address confirmation and password reset links that expired unused.
	if _, err := w.client.AccountToken.Delete().Where(accounttoken.ExpiresAtLT(now)).Exec(ctx); err != nil {
		return fmt.Errorf("cleanup account tokens: %w", err)
	}
	if err := cleanupSignInFlows(ctx, w.client, now); err != nil {
		return err
	}
	if w.keep.ReadNotifications > 0 {
		if _, err := w.client.Notification.Delete().Where(notification.ReadAtLT(now.Add(-w.keep.ReadNotifications))).Exec(ctx); err != nil {
			return fmt.Errorf("cleanup notifications: %w", err)
		}
	}
	return nil
}

// cleanupSignInFlows deletes sign-in flows past their expiry: abandoned at the provider, tickets
// never collected, links never confirmed. A new sign-in deletes them too, but a quiet instance
// would keep them (and their nonces) forever.
func cleanupSignInFlows(ctx context.Context, client *ent.Client, now time.Time) error {
	if _, err := client.SignInFlow.Delete().Where(signinflow.ExpiresAtLT(now)).Exec(ctx); err != nil {
		return fmt.Errorf("cleanup sign-in flows: %w", err)
	}
	return nil
}
