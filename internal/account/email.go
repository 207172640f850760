package account

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/accounttoken"
	"github.com/agora/agora/ent/session"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/mail"
	"github.com/agora/agora/internal/ratelimit"
)

// ResetTTL is how long a password reset link works.
const ResetTTL = 30 * time.Minute

// ReasonTokenInvalid answers verifyEmail and resetPassword with an unknown, expired or used token.
const ReasonTokenInvalid = "TOKEN_INVALID"

// Mail is how account mail (address confirmation, password reset) leaves: composed, then queued
// in the transaction of the write that causes it.
type Mail struct {
	Outbox     *mail.Outbox
	Composer   *mail.Composer
	Queue      *jobs.Queue
	VerifyTTL  time.Duration   // how long a confirmation link works
	PerAddress ratelimit.Limit // mails per address; reset requests per client address
	// RequireConfirmed: accounts may not write (post, comment, like, follow, message, edit their
	// profile) until their address is confirmed (AGORA_REQUIRE_VERIFIED_EMAIL).
	RequireConfirmed bool
}

// SetMail turns on account mail: sign-ups and address changes are mailed a confirmation link,
// and password resets work. It registers the reset worker on m.Queue (before it opens).
func (s *Service) SetMail(m Mail) {
	s.mail = &m
	s.requireConfirmed = m.RequireConfirmed
	jobs.AddWorker(m.Queue, &resetWorker{s: s})
}

var errTokenInvalid = &apperr.Error{Kind: apperr.Invalid, Field: "token", Reason: ReasonTokenInvalid,
	Message: "unknown, expired or used link: ask for a new one"}

// newToken stores a fresh token of purpose for u's current address and returns it. Earlier ones
// keep working until they expire or one of them is used (useToken).
func newToken(ctx context.Context, tx *ent.Tx, u *ent.User, purpose accounttoken.Purpose, ttl time.Duration) (string, *ent.AccountToken, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	row, err := tx.AccountToken.Create().SetPurpose(purpose).SetHash(hashToken(token)).SetUserID(u.ID).SetEmail(u.Email).
		SetExpiresAt(time.Now().UTC().Add(ttl)).Save(system(ctx))
	return token, row, err
}

// useToken removes the live token of purpose, with every other of its user's for that purpose
// (a used link ends the others), and returns it; or errTokenInvalid. Single use across replicas:
// only the caller whose delete removed the row goes on.
func useToken(ctx context.Context, tx *ent.Tx, purpose accounttoken.Purpose, token string) (*ent.AccountToken, error) {
	if token == "" || len(token) > 100 {
		return nil, errTokenInvalid
	}
	ctx = system(ctx)
	t, err := tx.AccountToken.Query().
		Where(accounttoken.Hash(hashToken(token)), accounttoken.PurposeEQ(purpose), accounttoken.ExpiresAtGT(time.Now().UTC())).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	if n, err := tx.AccountToken.Delete().Where(accounttoken.ID(t.ID)).Exec(ctx); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, errTokenInvalid
	}
	_, err = tx.AccountToken.Delete().Where(accounttoken.UserID(t.UserID), accounttoken.PurposeEQ(purpose)).Exec(ctx)
	return t, err
}

// queueVerification mails u's address a confirmation link, in tx.
func (s *Service) queueVerification(ctx context.Context, tx *ent.Tx, u *ent.User) error {
	if s.mail == nil {
		return nil
	}
	token, row, err := newToken(ctx, tx, u, accounttoken.PurposeVERIFY_EMAIL, s.mail.VerifyTTL)
	if err != nil {
		return err
	}
	m, err := s.mail.Composer.Verification(mail.Verification{To: u.Email, Recipient: u.DisplayName, Token: token,
		Valid: s.mail.VerifyTTL, Key: "verify-email:" + strconv.Itoa(row.ID)})
	if err != nil {
		return err
	}
	return s.mail.Outbox.Send(ctx, m)
}

// takeMailBudget spends one mail to address, or refuses with RATE_LIMITED.
func (s *Service) takeMailBudget(ctx context.Context, address string) error {
	return ratelimit.Take(ctx, s.limits.Limiter, "accountmail:"+address, s.mail.PerAddress, "too many mails to this address: retry later")
}

// errNoMail answers the mail operations of a server that has no mail set up.
var errNoMail = &apperr.Error{Kind: apperr.Unavailable, Message: "this server sends no mail"}

// VerifyEmail confirms the address a token was mailed to. It works signed out (the link is
// opened wherever the mail is read), once, and only while that address is still the account's.
// It returns the address confirmed.
func (s *Service) VerifyEmail(ctx context.Context, token string) (string, error) {
	var email string
	var userID int
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		t, err := useToken(ctx, tx, accounttoken.PurposeVERIFY_EMAIL, token)
		if err != nil {
			return err
		}
		userID = t.UserID
		n, err := tx.User.Update().Where(user.ID(t.UserID), user.Email(t.Email)).SetEmailVerifiedAt(time.Now().UTC()).Save(system(ctx))
		if err != nil {
			return err
		}
		if n == 0 { // the address changed since the link was mailed
			return errTokenInvalid
		}
		email = t.Email
		return nil
	})
	if err == nil {
		s.states.forgetUser(userID) // its sessions may write now, at once on this replica
	}
	return email, err
}

// ResendVerification mails the viewer's address a new confirmation link, unless it is confirmed
// already; it reports whether it sent one.
func (s *Service) ResendVerification(ctx context.Context) (bool, error) {
	if s.mail == nil {
		return false, errNoMail
	}
	u, err := s.client.User.Get(system(ctx), auth.FromContext(ctx).UserID)
	if err != nil {
		return false, err
	}
	if u.EmailVerifiedAt != nil {
		return false, nil
	}
	if err := s.takeMailBudget(ctx, u.Email); err != nil {
		return false, err
	}
	return true, database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		return s.queueVerification(ctx, tx, u)
	})
}

// ChangeEmailInput is a new sign-in address (bound to the GraphQL input of the same name).
type ChangeEmailInput struct {
	NewEmail        string
	CurrentPassword *string
}

// ChangeEmail sets the viewer's sign-in address, unconfirmed until the link mailed to it is
// opened. Accounts with a password must give it: whoever holds a stolen access token must not
// take the account over through a reset mailed to their own address.
func (s *Service) ChangeEmail(ctx context.Context, in ChangeEmailInput) (*ent.User, error) {
	email, err := normalizeEmail(in.NewEmail)
	if err != nil {
		return nil, apperr.InvalidField("newEmail", "is not an email address")
	}
	u, err := s.client.User.Get(system(ctx), auth.FromContext(ctx).UserID)
	if err != nil {
		return nil, err
	}
	if u.PasswordHash != "" {
		if in.CurrentPassword == nil {
			return nil, apperr.InvalidField("currentPassword", "is required: this account has a password")
		}
		if ok, err := auth.CheckPassword(u.PasswordHash, *in.CurrentPassword); err != nil {
			return nil, err
		} else if !ok {
			return nil, apperr.InvalidField("currentPassword", "wrong password")
		}
	}
	if email == u.Email {
		return nil, apperr.InvalidField("newEmail", "is the address the account has")
	}
	if s.mail != nil {
		if err := s.takeMailBudget(ctx, email); err != nil {
			return nil, err
		}
	}
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		if taken, err := tx.User.Query().Where(user.Email(email)).Exist(system(ctx)); err != nil {
			return err
		} else if taken {
			return apperr.ConflictField("newEmail", "an account with this email address exists")
		}
		// The system context: banned users may still secure their account.
		if u, err = tx.User.UpdateOne(u).SetEmail(email).ClearEmailVerifiedAt().Save(system(ctx)); err != nil {
			return err
		}
		return s.queueVerification(ctx, tx, u)
	})
	s.states.forgetUser(u.ID) // unconfirmed again
	if ent.IsConstraintError(err) {
		return nil, apperr.ConflictField("newEmail", "an account with this email address exists")
	}
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

// RequestPasswordReset mails a reset link to the account with this address, if there is one. The
// answer, and the work done to give it, are the same either way: the request only queues a job,
// and the job looks the address up.
func (s *Service) RequestPasswordReset(ctx context.Context, address string) error {
	if s.mail == nil {
		return errNoMail
	}
	email, err := normalizeEmail(address)
	if err != nil {
		return apperr.InvalidField("email", "is not an email address")
	}
	if err := ratelimit.Take(ctx, s.limits.Limiter, "reset:ip:"+auth.ClientIP(ctx), s.mail.PerAddress, "too many password resets: retry later"); err != nil {
		return err
	}
	if err := s.takeMailBudget(ctx, email); err != nil {
		return err
	}
	return s.mail.Queue.Insert(ctx, resetArgs{Email: email}, nil)
}

// resetArgs is a password reset request as a job.
type resetArgs struct {
	Email string `json:"email"`
}

func (resetArgs) Kind() string { return "password_reset" }

type resetWorker struct {
	river.WorkerDefaults[resetArgs]
	s *Service
}

// Work mails the reset link to the account with the address, if any and not banned. The token and
// the mail's job commit with the job's completion: a retried job makes a new token, and only the
// mail of the attempt that committed is sent.
func (w *resetWorker) Work(ctx context.Context, job *river.Job[resetArgs]) error {
	return jobs.Complete(ctx, w.s.client, job, func(ctx context.Context) error {
		tx := ent.TxFromContext(ctx)
		u, err := tx.User.Query().Where(user.Email(job.Args.Email), user.BannedAtIsNil()).Only(system(ctx))
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		token, row, err := newToken(ctx, tx, u, accounttoken.PurposeRESET_PASSWORD, ResetTTL)
		if err != nil {
			return err
		}
		m, err := w.s.mail.Composer.PasswordReset(mail.PasswordReset{To: u.Email, Recipient: u.DisplayName, Token: token,
			Valid: ResetTTL, Key: "password-reset:" + strconv.Itoa(row.ID)})
		if err != nil {
			return err
		}
		return w.s.mail.Outbox.Send(ctx, m)
	})
}

// ResetPasswordInput is a reset link's token and the new password.
type ResetPasswordInput struct {
	Token       string
	NewPassword string
}

// ResetPassword sets the password of the account a reset token was mailed to and ends all its
// sessions. Opening the link proved the address too: it counts as confirmed. It returns how many
// sessions ended.
func (s *Service) ResetPassword(ctx context.Context, in ResetPasswordInput) (int, error) {
	if n := utf8.RuneCountInString(in.NewPassword); n < 8 || n > 256 {
		return 0, apperr.InvalidField("newPassword", "must be 8 to 256 characters")
	}
	hash, err := auth.HashPassword(in.NewPassword)
	if err != nil {
		return 0, err
	}
	var userID int
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		t, err := useToken(ctx, tx, accounttoken.PurposeRESET_PASSWORD, in.Token)
		if err != nil {
			return err
		}
		update := tx.User.Update().Where(user.ID(t.UserID), user.Email(t.Email)).SetPasswordHash(hash)
		n, err := update.Save(system(ctx))
		if err != nil {
			return err
		}
		if n == 0 { // the address changed since the link was mailed
			return errTokenInvalid
		}
		userID = t.UserID
		_, err = tx.User.Update().Where(user.ID(t.UserID), user.EmailVerifiedAtIsNil()).SetEmailVerifiedAt(time.Now().UTC()).Save(system(ctx))
		return err
	})
	if err != nil {
		return 0, err
	}
	return s.revoke(system(ctx), session.UserID(userID))
}

// EmailVerified reads whether a user's address is confirmed.
func (s *Service) EmailVerified(ctx context.Context, userID int) (*bool, error) {
	n, err := s.client.User.Query().Where(user.ID(userID), user.EmailVerifiedAtNotNil()).Count(system(ctx))
	if err != nil {
		return nil, err
	}
	verified := n > 0
	return &verified, nil
}
