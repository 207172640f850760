// Package live carries events from committed writes to GraphQL subscriptions: writers announce each
// new comment, message or notification in their transaction, and the event is published once it
// commits; each subscriber receives the entities its own viewer may see, checked per event by the
// same privacy rules as queries.
package live

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/comment"
	"github.com/agora/agora/ent/conversation"
	"github.com/agora/agora/ent/message"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/pubsub"
)

// Service publishes and subscribes to the events of one process.
type Service struct {
	client *ent.Client
	bus    pubsub.Bus
	log    *slog.Logger

	started, active atomic.Int64
}

// Stats count subscriptions: started since start, and running now.
type Stats struct{ Started, Active int64 }

// Stats returns the counts so far.
func (s *Service) Stats() Stats { return Stats{Started: s.started.Load(), Active: s.active.Load()} }

// New returns a Service over bus.
func New(client *ent.Client, bus pubsub.Bus, log *slog.Logger) *Service {
	return &Service{client: client, bus: bus, log: log}
}

func topic(kind string, id int) string { return kind + ":" + strconv.Itoa(id) }

// event is what travels through the bus: the new entity's ID and, when everyone may see it, the
// entity itself, so subscribers need no query to receive it.
type event struct {
	ID     int             `json:"id"`
	Public json.RawMessage `json:"public,omitempty"`
}

// publish sends an event once the transaction in ctx has committed (at once without one: the write
// is committed then), so a subscriber never reads a row that is not committed yet, nor hears of a
// write that was rolled back. A lost event is a missed live update, never a lost write: it is
// logged, not returned.
func (s *Service) publish(ctx context.Context, t string, e func(context.Context) event) {
	database.AfterCommit(ctx, func(ctx context.Context) { s.send(ctx, t, e(ctx)) })
}

func (s *Service) send(ctx context.Context, t string, e event) {
	b, err := json.Marshal(e)
	if err == nil {
		err = s.bus.Publish(ctx, t, b)
	}
	switch {
	case errors.Is(err, cache.ErrRedisUnavailable): // logged once by the guard, not per event
		s.log.DebugContext(ctx, "publishing an event failed", "topic", t, "err", err)
	case err != nil:
		s.log.WarnContext(ctx, "publishing an event failed", "topic", t, "err", err)
	}
}

// CommentAdded announces a new comment on a post.
func (s *Service) CommentAdded(ctx context.Context, postID, commentID int) {
	s.publish(ctx, topic("comments", postID), func(ctx context.Context) event {
		e := event{ID: commentID}
		// As a signed-out reader, after commit: the payload everyone may see, if they may.
		if c, err := s.client.Comment.Query().Where(comment.ID(commentID)).Only(auth.WithViewer(ctx, auth.Viewer{})); err == nil {
			e.Public, _ = json.Marshal(c)
		}
		return e
	})
}

// MessageAdded announces a new message in a conversation.
func (s *Service) MessageAdded(ctx context.Context, conversationID, messageID int) {
	s.publish(ctx, topic("messages", conversationID), func(context.Context) event { return event{ID: messageID} })
}

// NotificationAdded announces a new notification to its recipient.
func (s *Service) NotificationAdded(ctx context.Context, recipientID, notificationID int) {
	s.publish(ctx, topic("notifications", recipientID), func(context.Context) event { return event{ID: notificationID} })
}

// Comments streams the new comments on a post the viewer may see.
func (s *Service) Comments(ctx context.Context, postID int) (<-chan *ent.Comment, error) {
	if ok, err := s.client.Post.Query().Where(post.ID(postID)).Exist(ctx); err != nil {
		return nil, err
	} else if !ok {
		return nil, &apperr.Error{Kind: apperr.NotFound, Field: "postID", Message: "post not found"}
	}
	return stream(s, ctx, topic("comments", postID), func(ctx context.Context, e event) (*ent.Comment, error) {
		if e.Public != nil { // everyone may see what a signed-out reader sees
			var c ent.Comment
			if err := json.Unmarshal(e.Public, &c); err != nil {
				return nil, err
			}
			return s.client.Comment.Attach(&c), nil
		}
		return s.client.Comment.Query().Where(comment.ID(e.ID)).Only(ctx)
	})
}

// Messages streams the new messages of one of the viewer's conversations.
func (s *Service) Messages(ctx context.Context, conversationID int) (<-chan *ent.Message, error) {
	if ok, err := s.client.Conversation.Query().Where(conversation.ID(conversationID)).Exist(ctx); err != nil {
		return nil, err
	} else if !ok {
		return nil, &apperr.Error{Kind: apperr.NotFound, Field: "conversationID", Message: "conversation not found"}
	}
	return stream(s, ctx, topic("messages", conversationID), func(ctx context.Context, e event) (*ent.Message, error) {
		return s.client.Message.Query().Where(message.ID(e.ID)).Only(ctx)
	})
}

// Notifications streams the viewer's new notifications.
func (s *Service) Notifications(ctx context.Context) (<-chan *ent.Notification, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	return stream(s, ctx, topic("notifications", v.UserID), func(ctx context.Context, e event) (*ent.Notification, error) {
		return s.client.Notification.Query().Where(notification.ID(e.ID)).Only(ctx)
	})
}

// stream subscribes to t and delivers each event's entity, as load reads it for the subscriber's
// viewer; entities the viewer may not see (not found) are skipped. The channel closes when ctx
// ends or the subscription does; a subscriber too slow for its buffer has its connection closed.
func stream[T any](s *Service, ctx context.Context, t string, load func(context.Context, event) (*T, error)) (<-chan *T, error) {
	sub, err := s.bus.Subscribe(ctx, t)
	if errors.Is(err, pubsub.ErrBusClosed) {
		return nil, &apperr.Error{Kind: apperr.Unavailable, Message: "the server is shutting down: reconnect", Err: err}
	}
	if errors.Is(err, pubsub.ErrTopicFull) {
		return nil, &apperr.Error{Kind: apperr.Unavailable, Message: "this has as many live subscribers as the server takes: retry later", Err: err}
	}
	if err != nil {
		return nil, err
	}
	out := make(chan *T)
	s.active.Add(1)
	s.started.Add(1)
	go func() {
		defer s.active.Add(-1)
		defer close(out)
		defer sub.Close()
		for payload := range sub.Events() {
			var e event
			if err := json.Unmarshal(payload, &e); err != nil {
				s.log.WarnContext(ctx, "undecodable event", "topic", t, "err", err)
				continue
			}
			v, err := load(ctx, e)
			if ent.IsNotFound(err) {
				continue
			}
			if err != nil {
				s.log.WarnContext(ctx, "reading an event's entity failed", "topic", t, "err", err)
				continue
			}
			select {
			case out <- v:
			case <-ctx.Done():
				return
			}
		}
		if err := sub.Err(); errors.Is(err, pubsub.ErrSlowSubscriber) {
			Disconnect(ctx, err)
		}
	}()
	return out, nil
}

type disconnectKey struct{}

// WithDisconnect returns a context whose subscriptions end their connection through fn when they
// must stop (a subscriber too slow for its buffer), with a reason for the client.
func WithDisconnect(ctx context.Context, fn func(reason error)) context.Context {
	return context.WithValue(ctx, disconnectKey{}, fn)
}

// Disconnect ends the connection ctx belongs to, if its transport can.
func Disconnect(ctx context.Context, reason error) {
	if fn, ok := ctx.Value(disconnectKey{}).(func(error)); ok {
		fn(reason)
	}
}
