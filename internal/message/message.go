// Package message sends direct messages between two users.
package message

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/conversation"
	"github.com/agora/agora/ent/follow"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/ratelimit"
)

// Service sends messages.
type Service struct {
	client  *ent.Client
	live    *live.Service
	notify  *notify.Service
	limiter ratelimit.Limiter
	perUser ratelimit.Limit // messages one user may send, against spam
}

// New returns a Service; each user may send perUser messages, counted by limiter.
func New(client *ent.Client, l *live.Service, n *notify.Service, limiter ratelimit.Limiter, perUser ratelimit.Limit) *Service {
	return &Service{client: client, live: l, notify: n, limiter: limiter, perUser: perUser}
}

// SendInput is a message to send (bound to the GraphQL input SendMessageInput).
type SendInput struct {
	RecipientID int `json:"recipientID"`
	Body        string
}

// Send sends a message from the viewer, starting their conversation with the recipient if there
// is none yet; once it is committed, it is announced and the recipient notified.
func (s *Service) Send(ctx context.Context, in SendInput) (*ent.Message, *ent.Conversation, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, nil, apperr.ErrUnauthenticated
	}
	body, err := apperr.Text("body", in.Body, 1, 5000)
	if err != nil {
		return nil, nil, err
	}
	if !v.HasScope(auth.ScopeWrite) {
		return nil, nil, apperr.Forbiddenf("banned users cannot send direct messages")
	}
	if in.RecipientID == v.UserID {
		return nil, nil, apperr.InvalidField("recipientID", "you cannot message yourself")
	}
	if err := ratelimit.Take(ctx, s.limiter, "message:user:"+strconv.Itoa(v.UserID), s.perUser, "too many messages: retry later"); err != nil {
		return nil, nil, err
	}
	pair := fmt.Sprintf("%d:%d", min(v.UserID, in.RecipientID), max(v.UserID, in.RecipientID))
	var m *ent.Message
	var c *ent.Conversation
	// Two first messages racing create the conversation once: the loser's insert conflicts on
	// the pair, and its second attempt finds the winner's conversation.
	for attempt := 0; ; attempt++ {
		err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
			if err := mayMessage(ctx, tx, v.UserID, in.RecipientID); err != nil {
				return err
			}
			now := time.Now().UTC()
			c, err = tx.Conversation.Query().Where(conversation.Pair(pair)).Only(ctx)
			if ent.IsNotFound(err) {
				c, err = tx.Conversation.Create().SetPair(pair).AddParticipantIDs(v.UserID, in.RecipientID).
					SetCreatedAt(now).SetLastMessageAt(now).Save(ctx)
			} else if err == nil {
				c, err = c.Update().SetLastMessageAt(now).Save(ctx)
			}
			if err != nil {
				return err
			}
			if m, err = tx.Message.Create().SetConversationID(c.ID).SetSenderID(v.UserID).SetBody(body).SetCreatedAt(now).Save(ctx); err != nil {
				return err
			}
			s.live.MessageAdded(ctx, c.ID, m.ID)
			return s.notify.Notify(ctx, notify.Notice{Kind: notification.KindNEW_MESSAGE, Recipient: in.RecipientID, Actor: v.UserID, Message: &m.ID})
		})
		if !ent.IsConstraintError(err) || attempt > 0 {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return m.Unwrap(), c.Unwrap(), nil
}

// errRefused is the answer of a recipient who does not take messages from the sender: the same
// for a ban as for their setting, since who is banned is for moderators to know.
var errRefused = apperr.Forbiddenf("this user does not accept direct messages from you")

// mayMessage checks, in the sending transaction, that the recipient exists, is not banned, and
// takes messages from the sender by their message policy (FOLLOWING: people they follow). It
// holds for every message, not only a conversation's first: a setting changed later applies to
// the conversations already open.
func mayMessage(ctx context.Context, tx *ent.Tx, sender, recipient int) error {
	r, err := tx.User.Query().Where(user.ID(recipient)).Select(user.FieldBannedAt, user.FieldMessagePolicy).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return &apperr.Error{Kind: apperr.NotFound, Field: "recipientID", Message: "user not found"}
	case err != nil:
		return err
	case r.BannedAt != nil:
		return errRefused
	}
	switch r.MessagePolicy {
	case user.MessagePolicyEVERYONE:
		return nil
	case user.MessagePolicyFOLLOWING:
		// user_id is followed by following_id: the recipient follows the sender.
		follows, err := tx.Follow.Query().Where(follow.UserID(sender), follow.FollowingID(recipient)).Exist(ctx)
		if err != nil {
			return err
		}
		if follows {
			return nil
		}
		return apperr.Forbiddenf("this user accepts direct messages only from people they follow")
	}
	return errRefused
}
