// Package notify tells users when someone follows them, comments on or likes their posts, or
// messages them.
package notify

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/live"
)

// Service writes and reads notifications.
type Service struct {
	client *ent.Client
	live   *live.Service
	queue  *jobs.Queue
	log    *slog.Logger
	mail   *Mail // notification mail (SetMail); nil: none
}

// New returns a Service whose notices are jobs of queue: New registers their worker.
func New(client *ent.Client, l *live.Service, queue *jobs.Queue, log *slog.Logger) *Service {
	s := &Service{client: client, live: l, queue: queue, log: log}
	jobs.AddWorker(queue, &noticeWorker{s: s})
	return s
}

// Notice is something that happened to Recipient, done by Actor.
type Notice struct {
	Kind      notification.Kind `json:"kind"`
	Recipient int               `json:"recipient"`
	Actor     int               `json:"actor"`
	Post      *int              `json:"post,omitempty"`
	Comment   *int              `json:"comment,omitempty"`
	Message   *int              `json:"message,omitempty"`
	// At is when the action happened (Notify sets it): notices run by concurrent workers are
	// still listed in the order of their actions.
	At time.Time `json:"at"`
}

// noticeArgs is a notice as a job.
type noticeArgs struct {
	Notice
}

func (noticeArgs) Kind() string { return "notify" }

// Notify has a notice recorded and announced once the action it tells of has committed: called in
// that action's transaction, it inserts a job in it, so a committed action always notifies (even
// if this process dies right after the commit) and a rolled-back one notifies nobody. Nobody is
// notified of their own actions. An error means the job could not be inserted: the caller's
// transaction must fail with it.
func (s *Service) Notify(ctx context.Context, n Notice) error {
	if n.Recipient == n.Actor {
		return nil
	}
	if n.At.IsZero() {
		n.At = time.Now().UTC()
	}
	return s.queue.Insert(ctx, noticeArgs{n}, nil)
}

// noticeWorker writes a notification and announces it.
type noticeWorker struct {
	river.WorkerDefaults[noticeArgs]
	s *Service
}

// Work writes the notification in the transaction that completes the job, so a job that runs
// again (its process died) never writes it twice. The live event follows the commit: it is
// best-effort, like every live event.
func (w *noticeWorker) Work(ctx context.Context, job *river.Job[noticeArgs]) error {
	n := job.Args.Notice
	return jobs.Complete(ctx, w.s.client, job, func(ctx context.Context) error {
		// The system writes notifications: the actor may not write rows addressed to someone else.
		created, err := ent.FromContext(ctx).Notification.Create().
			SetKind(n.Kind).
			SetRecipientID(n.Recipient).
			SetActorID(n.Actor).
			SetNillablePostID(n.Post).
			SetNillableCommentID(n.Comment).
			SetNillableMessageID(n.Message).
			SetCreatedAt(n.At).
			Save(privacy.DecisionContext(ctx, privacy.Allow))
		if ent.IsConstraintError(err) {
			// What it tells of was deleted meanwhile (a comment, a post): nothing to tell.
			w.s.log.InfoContext(ctx, "notification dropped: its subject is gone", "kind", n.Kind, "recipient", n.Recipient)
			return nil
		}
		if err != nil {
			return err
		}
		if w.s.mail != nil {
			if err := w.s.mailInstant(ctx, created); err != nil {
				return err
			}
		}
		w.s.live.NotificationAdded(ctx, n.Recipient, created.ID)
		return nil
	})
}

// MarkReadInput selects the viewer's notifications to mark read (bound to the GraphQL input of the
// same name).
type MarkReadInput struct {
	IDs []int `json:"ids"`
}

// MarkRead marks the viewer's unread notifications read — those listed, or all — and returns the
// viewer, whose unread count changed, and how many changed.
func (s *Service) MarkRead(ctx context.Context, in MarkReadInput) (*ent.User, int, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, 0, apperr.ErrUnauthenticated
	}
	upd := s.client.Notification.Update().Where(notification.ReadAtIsNil())
	if in.IDs != nil {
		upd.Where(notification.IDIn(in.IDs...))
	}
	n, err := upd.SetReadAt(time.Now().UTC()).Save(ctx) // the privacy rule limits it to the viewer's
	if err != nil {
		return nil, 0, err
	}
	u, err := s.client.User.Get(ctx, v.UserID)
	if err != nil {
		return nil, 0, err
	}
	return u, n, nil
}

// UnreadCount returns how many of a user's notifications are unread, as the viewer may see them.
func (s *Service) UnreadCount(ctx context.Context, userID int) (int, error) {
	return s.client.Notification.Query().Where(notification.RecipientID(userID), notification.ReadAtIsNil()).Count(ctx)
}
