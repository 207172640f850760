package notify

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/riverqueue/river"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/mail"
)

// The mail settings, per notification kind.
const (
	MailOff     = "OFF"     // no mail
	MailInstant = "INSTANT" // a mail per notification
	MailDaily   = "DAILY"   // in the daily digest
)

// Settings are a user's notification mail settings by notification kind.
type Settings map[notification.Kind]string

// kinds are the notification kinds with their user column.
var kinds = []struct {
	kind   notification.Kind
	column string
}{
	{notification.KindNEW_FOLLOWER, user.FieldMailNewFollower},
	{notification.KindNEW_COMMENT, user.FieldMailNewComment},
	{notification.KindPOST_LIKED, user.FieldMailPostLiked},
	{notification.KindNEW_MESSAGE, user.FieldMailNewMessage},
}

func settingsOf(u *ent.User) Settings {
	return Settings{
		notification.KindNEW_FOLLOWER: string(u.MailNewFollower),
		notification.KindNEW_COMMENT:  string(u.MailNewComment),
		notification.KindPOST_LIKED:   string(u.MailPostLiked),
		notification.KindNEW_MESSAGE:  string(u.MailNewMessage),
	}
}

// Mail is how notification mail leaves.
type Mail struct {
	Outbox   *mail.Outbox
	Composer *mail.Composer
	// Sign is HMAC-SHA256 of label and msg under the server's keys, the current one first (the
	// others verify links mailed before a key rotation): unsubscribe links.
	Sign func(label string, msg []byte) [][]byte
	// DigestEvery is how often the digest job looks for users whose day ended (0: never).
	DigestEvery time.Duration
}

// SetMail turns notification mail on: instant mail from the notices' jobs, and the daily digest
// as a periodic job of queue. Call it before the queue opens.
func (s *Service) SetMail(m Mail) {
	s.mail = &m
	if m.DigestEvery > 0 {
		jobs.AddWorker(s.queue, &digestWorker{s: s})
		s.queue.AddPeriodic(m.DigestEvery, func() river.JobArgs { return DigestArgs{} })
	}
}

func system(ctx context.Context) context.Context { return privacy.DecisionContext(ctx, privacy.Allow) }

// Settings reads a user's notification mail settings.
func (s *Service) Settings(ctx context.Context, userID int) (Settings, error) {
	u, err := s.client.User.Query().Where(user.ID(userID)).
		Select(user.FieldID, user.FieldMailNewFollower, user.FieldMailNewComment, user.FieldMailPostLiked, user.FieldMailNewMessage).
		Only(system(ctx))
	if err != nil {
		return nil, err
	}
	return settingsOf(u), nil
}

// UpdateSettings changes the viewer's settings of the kinds in change and returns them all.
func (s *Service) UpdateSettings(ctx context.Context, change Settings) (Settings, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	// The system context: a banned user may still stop their mail.
	u, err := s.setMail(system(ctx), v.UserID, change)
	if err != nil {
		return nil, err
	}
	return settingsOf(u), nil
}

func (s *Service) setMail(ctx context.Context, userID int, change Settings) (*ent.User, error) {
	upd := s.client.User.UpdateOneID(userID)
	for k, mode := range change {
		switch k {
		case notification.KindNEW_FOLLOWER:
			upd.SetMailNewFollower(user.MailNewFollower(mode))
		case notification.KindNEW_COMMENT:
			upd.SetMailNewComment(user.MailNewComment(mode))
		case notification.KindPOST_LIKED:
			upd.SetMailPostLiked(user.MailPostLiked(mode))
		case notification.KindNEW_MESSAGE:
			upd.SetMailNewMessage(user.MailNewMessage(mode))
		}
	}
	return upd.Save(ctx)
}

// mailable tells whether u may be mailed notifications at all: not banned, and at an address they
// confirmed (nothing goes to an address nobody proved is theirs).
func mailable(u *ent.User) bool { return u.BannedAt == nil && u.EmailVerifiedAt != nil }

// mailInstant queues the mail of notification n to its recipient, in the job's transaction, if
// the recipient wants such notifications mailed at once.
func (s *Service) mailInstant(ctx context.Context, n *ent.Notification) error {
	client := ent.FromContext(ctx)
	u, err := client.User.Get(system(ctx), n.RecipientID)
	if err != nil {
		return err
	}
	if !mailable(u) || settingsOf(u)[n.Kind] != MailInstant {
		return nil
	}
	ev, err := event(ctx, client, n)
	if err != nil {
		return err
	}
	key := "notification:" + strconv.Itoa(n.ID)
	m, err := s.mail.Composer.Notification(mail.Notification{To: u.Email, Recipient: u.DisplayName, Event: ev,
		Unsubscribe: s.unsubscribeToken(u.ID, string(n.Kind)), Key: key})
	_, err = s.send(ctx, key, m, err)
	return err
}

// send queues m, which was made with err, and tells whether it did. A mail that cannot be made (a
// template's error, an address refused) never will be: it is logged and dropped, so that what
// comes with it (the notification, the digest's claim of the day) is neither lost nor retried
// forever. Only the queue's own errors are returned.
func (s *Service) send(ctx context.Context, key string, m mail.Message, err error) (bool, error) {
	if err == nil {
		err = s.mail.Outbox.Send(ctx, m)
		if e, ok := apperr.As(err); !ok || e.Kind != apperr.Invalid {
			return err == nil, err
		}
	}
	s.log.ErrorContext(ctx, "notification mail dropped", "key", key, "err", err)
	return false, nil
}

// event describes notification n for mail. It reads what n tells of, unless n was read with its
// edges (a digest loads all of its notifications' edges in one query each).
func event(ctx context.Context, client *ent.Client, n *ent.Notification) (mail.Event, error) {
	if n.Edges.Actor == nil {
		var err error
		if n, err = client.Notification.Query().Where(notification.ID(n.ID)).
			WithActor().WithPost().WithComment().WithMessage().Only(system(ctx)); err != nil {
			return mail.Event{}, err
		}
	}
	actor := n.Edges.Actor
	ev := mail.Event{Kind: mail.Kind(n.Kind), Actor: actor.DisplayName, At: n.CreatedAt, Path: "/users/" + actor.Username}
	if ev.Actor == "" {
		ev.Actor = actor.Username
	}
	if p := n.Edges.Post; p != nil {
		ev.Title, ev.Path = p.Title, "/posts/"+p.Slug
	}
	if c := n.Edges.Comment; c != nil {
		ev.Excerpt = c.Body
	}
	if m := n.Edges.Message; m != nil {
		ev.Excerpt, ev.Path = m.Body, "/messages/"+strconv.Itoa(m.ConversationID)
	}
	return ev, nil
}

// DigestArgs is the periodic job that mails the daily digests due.
type DigestArgs struct{}

// Kind is the job's kind.
func (DigestArgs) Kind() string { return "notification_digest" }

type digestWorker struct {
	river.WorkerDefaults[DigestArgs]
	s *Service
}

func (w *digestWorker) Work(ctx context.Context, _ *river.Job[DigestArgs]) error {
	_, err := w.s.Digest(ctx, time.Now())
	return err
}

// digestMax bounds the events of one digest: the most recent are told, the rest are in the app.
const digestMax = 50

// Digest mails each mailable user with DAILY kinds the unread notifications of those kinds from the
// last whole UTC day before now (or since their last digest, if later), and records that day as
// done for them in the same transaction: a rerun, or a second process, mails nobody twice. It
// returns how many digests it queued.
func (s *Service) Digest(ctx context.Context, now time.Time) (int, error) {
	ctx = system(ctx)
	end := now.UTC().Truncate(24 * time.Hour)
	var daily []predicate.User
	for _, k := range kinds {
		daily = append(daily, func(sel *sql.Selector) { sel.Where(sql.EQ(sel.C(k.column), MailDaily)) })
	}
	sent, after := 0, 0
	var failed []error
	for {
		// Not banned and confirmed only narrows the scan: digest asks mailable, the one rule.
		users, err := s.client.User.Query().
			Where(user.IDGT(after), user.Or(daily...), user.BannedAtIsNil(), user.EmailVerifiedAtNotNil(),
				user.Or(user.DigestThroughIsNil(), user.DigestThroughLT(end))).
			Order(ent.Asc(user.FieldID)).Limit(100).All(ctx)
		if err != nil || len(users) == 0 {
			return sent, errors.Join(append(failed, err)...)
		}
		for _, u := range users {
			after = u.ID
			ok, err := s.digest(ctx, u, end)
			if err != nil {
				// One user's failure (its day stays unclaimed, for the job's retry) must not hold
				// back everyone after them; a dead context or database ends the run.
				failed = append(failed, fmt.Errorf("digest for user %d: %w", u.ID, err))
				if ctx.Err() != nil || len(failed) >= digestMaxFailures {
					return sent, errors.Join(failed...)
				}
				continue
			}
			if ok {
				sent++
			}
		}
	}
}

// digestMaxFailures ends a digest run that fails for this many users: the cause is not theirs.
const digestMaxFailures = 10

// digest mails u's digest of the day ending at end, if it has events, and marks the day done.
func (s *Service) digest(ctx context.Context, u *ent.User, end time.Time) (bool, error) {
	if !mailable(u) {
		return false, nil
	}
	start := end.Add(-24 * time.Hour)
	if u.DigestThrough != nil && u.DigestThrough.After(start) {
		start = *u.DigestThrough
	}
	var wanted []notification.Kind
	for k, mode := range settingsOf(u) {
		if mode == MailDaily {
			wanted = append(wanted, k)
		}
	}
	sent := false
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		// Claims the day first: of two runs at once, the second finds it taken and sends nothing.
		n, err := tx.User.Update().Where(user.ID(u.ID), user.Or(user.DigestThroughIsNil(), user.DigestThroughLT(end))).
			SetDigestThrough(end).Save(ctx)
		if err != nil || n == 0 {
			return err
		}
		ofTheDay := tx.Notification.Query().
			Where(notification.RecipientID(u.ID), notification.KindIn(wanted...), notification.ReadAtIsNil(),
				notification.CreatedAtGTE(start), notification.CreatedAtLT(end))
		ns, err := ofTheDay.Clone().
			Order(ent.Desc(notification.FieldCreatedAt), ent.Desc(notification.FieldID)).Limit(digestMax).
			WithActor().WithPost().WithComment().WithMessage().All(ctx)
		if err != nil || len(ns) == 0 {
			return err
		}
		total := len(ns)
		if total == digestMax { // the subject counts them all, and the mail says it shows the newest
			if total, err = ofTheDay.Count(ctx); err != nil {
				return err
			}
		}
		d := mail.Digest{To: u.Email, Recipient: u.DisplayName, Day: start, Total: total, Unsubscribe: s.unsubscribeToken(u.ID, digestTopic),
			Key: "digest:" + strconv.Itoa(u.ID) + ":" + start.Format(time.DateOnly)}
		for i := len(ns) - 1; i >= 0; i-- { // oldest first
			ev, err := event(ctx, tx.Client(), ns[i])
			if err != nil {
				return err
			}
			d.Events = append(d.Events, ev)
		}
		m, err := s.mail.Composer.Digest(d)
		sent, err = s.send(ctx, d.Key, m, err)
		return err
	})
	return sent, err
}

// topicNames are the kinds as the unsubscribe page names them.
var topicNames = map[notification.Kind]string{
	notification.KindNEW_FOLLOWER: "new followers", notification.KindNEW_COMMENT: "comments on your posts",
	notification.KindPOST_LIKED: "likes of your posts", notification.KindNEW_MESSAGE: "direct messages",
}

// digestTopic is the unsubscribe topic of the digest: all DAILY kinds.
const digestTopic = "DIGEST"

const unsubscribeLabel = "unsubscribe"

// unsubscribeToken is the one-click unsubscribe token of user from topic (a notification kind, or
// the digest): signed, so only Agora makes them; it does not expire, as mail is read late.
func (s *Service) unsubscribeToken(userID int, topic string) string {
	msg := strconv.Itoa(userID) + "." + topic
	return base64.RawURLEncoding.EncodeToString([]byte(msg)) + "." + base64.RawURLEncoding.EncodeToString(s.mail.Sign(unsubscribeLabel, []byte(msg))[0])
}

// ErrBadUnsubscribe refuses an unsubscribe token Agora did not make.
var ErrBadUnsubscribe = apperr.InvalidField("token", "not an unsubscribe link of this server")

// Unsubscribe turns off the mail a token's link names — one notification kind, or (the digest's
// link) every kind in the digest — without signing in: the token is the proof. It returns what
// was turned off, for the confirmation page.
func (s *Service) Unsubscribe(ctx context.Context, token string) (string, error) {
	if s.mail == nil {
		return "", ErrBadUnsubscribe
	}
	payload, mac, ok := strings.Cut(token, ".")
	msg, err1 := base64.RawURLEncoding.DecodeString(payload)
	sig, err2 := base64.RawURLEncoding.DecodeString(mac)
	if !ok || err1 != nil || err2 != nil {
		return "", ErrBadUnsubscribe
	}
	valid := false
	for _, want := range s.mail.Sign(unsubscribeLabel, msg) {
		valid = valid || hmac.Equal(sig, want)
	}
	id, topic, _ := strings.Cut(string(msg), ".")
	userID, err := strconv.Atoi(id)
	if !valid || err != nil {
		return "", ErrBadUnsubscribe
	}
	ctx = system(ctx)
	change := Settings{}
	if topic == digestTopic {
		current, err := s.Settings(ctx, userID)
		if ent.IsNotFound(err) {
			return "", ErrBadUnsubscribe
		} else if err != nil {
			return "", err
		}
		for k, mode := range current {
			if mode == MailDaily {
				change[k] = MailOff
			}
		}
		topic = "the daily digest"
	} else {
		change[notification.Kind(topic)] = MailOff
		if name, ok := topicNames[notification.Kind(topic)]; ok {
			topic = name
		}
	}
	if _, err := s.setMail(ctx, userID, change); ent.IsNotFound(err) {
		return "", ErrBadUnsubscribe // the account is gone
	} else if err != nil {
		return "", err
	}
	return topic, nil
}
