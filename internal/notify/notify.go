// Package notify tells users when someone follows them, comments on or likes their posts, or
// messages them.
package notify

import (
	"context"
	"log/slog"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/live"
)

// Service writes and reads notifications.
type Service struct {
	client *ent.Client
	live   *live.Service
	log    *slog.Logger
}

// New returns a Service.
func New(client *ent.Client, l *live.Service, log *slog.Logger) *Service {
	return &Service{client: client, live: l, log: log}
}

// Notice is something that happened to Recipient, done by Actor.
type Notice struct {
	Kind                   notification.Kind
	Recipient, Actor       int
	Post, Comment, Message *int
}

// Notify records a notice and announces it once the action it tells of has committed: called in
// that action's transaction, it is registered on it (database.AfterCommit), so a rolled-back action
// notifies nobody. Nobody is notified of their own actions. A failure is logged, never returned:
// the action itself succeeded.
func (s *Service) Notify(ctx context.Context, n Notice) {
	if n.Recipient == n.Actor {
		return
	}
	database.AfterCommit(ctx, func(ctx context.Context) { s.record(ctx, n) })
}

// record writes a notification and announces it.
func (s *Service) record(ctx context.Context, n Notice) {
	// The system writes notifications: the actor may not write rows addressed to someone else.
	created, err := s.client.Notification.Create().
		SetKind(n.Kind).
		SetRecipientID(n.Recipient).
		SetActorID(n.Actor).
		SetNillablePostID(n.Post).
		SetNillableCommentID(n.Comment).
		SetNillableMessageID(n.Message).
		Save(privacy.DecisionContext(ctx, privacy.Allow))
	if err != nil {
		s.log.WarnContext(ctx, "writing a notification failed", "kind", n.Kind, "recipient", n.Recipient, "err", err)
		return
	}
	s.live.NotificationAdded(ctx, n.Recipient, created.ID)
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
