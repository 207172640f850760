package identity

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/signinflow"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/mail"
)

// confirmTTL is how long the owner of an account has to confirm, by email, the link of an identity
// that signed in with the account's address.
const confirmTTL = time.Hour

// ReasonConfirmInvalid answers confirmIdentityLink with an unknown, expired or used token.
const ReasonConfirmInvalid = "CONFIRMATION_INVALID"

// accountExists is signIn's refusal of an identity whose verified address is userID's.
type accountExists struct{ userID int }

func (accountExists) Error() string { return "an account has this email address" }

// offerConfirmation answers an identity whose verified address is an existing account's: nothing
// is linked, but the account's owner is mailed a single-use link that links it (once per hour for
// the same identity). It returns what to tell the client page.
func (s *Service) offerConfirmation(ctx context.Context, p *provider, c claims, userID int, redirectURI string) url.Values {
	back := url.Values{"error": {ReasonAccountExists}, "provider": {p.name}}
	if s.opts.Outbox == nil || s.opts.ConfirmURL == "" {
		return back
	}
	now := time.Now().UTC()
	pending, err := s.client.SignInFlow.Query().
		Where(signinflow.LinkUserID(userID), signinflow.Provider(p.name), signinflow.Subject(c.Subject), signinflow.ExpiresAtGT(now)).
		Exist(system(ctx))
	if err != nil {
		s.log.ErrorContext(ctx, "identity link confirmation", "err", err)
		return back
	}
	if pending { // mailed already: no more mail for the owner from more attempts
		back.Set("confirmation", "sent")
		return back
	}
	token := random()
	// The flow and the mail commit together: a confirmation exists only if its mail is queued.
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		row, err := tx.SignInFlow.Create().SetKeyHash(digest("confirm", token)).SetProvider(p.name).SetRedirectURI(redirectURI).
			SetLinkUserID(userID).SetSubject(c.Subject).SetEmail(c.Email).SetExpiresAt(now.Add(confirmTTL)).Save(system(ctx))
		if err != nil {
			return err
		}
		return s.opts.Outbox.Send(ctx, confirmation(c.Email, p.display, s.opts.ConfirmURL+"?"+url.Values{"token": {token}}.Encode(), row.ID))
	})
	if err != nil {
		s.log.ErrorContext(ctx, "identity link confirmation", "err", err)
		return back
	}
	back.Set("confirmation", "sent")
	return back
}

// confirmation is the mail offering the owner of to the link of their provider identity.
func confirmation(to, provider, link string, id int) mail.Message {
	return mail.Message{
		To:      to,
		Subject: "Link your " + provider + " account to Agora?",
		Text: fmt.Sprintf("Someone signed in to Agora with a %s account that has this email address, %s.\n\n"+
			"If that was you and you want that %s account to sign you in to your Agora account, open this link within an hour:\n\n%s\n\n"+
			"If it was not you, ignore this mail: nothing is linked unless the link is opened, and whoever opens it gives that %s account access to your Agora account.\n",
			provider, to, provider, link, provider),
		Key: "identity-link:" + strconv.Itoa(id),
	}
}

// ConfirmIdentityLink links the identity a confirmation mail was sent for: the token proves the
// owner reads the account's mail. It returns the provider's name.
func (s *Service) ConfirmIdentityLink(ctx context.Context, token string) (string, error) {
	bad := refusal(apperr.Invalid, ReasonConfirmInvalid, "token", "unknown, expired or used confirmation link")
	if token == "" || len(token) > 100 {
		return "", bad
	}
	f, err := s.takeFlow(ctx, bad, signinflow.KeyHash(digest("confirm", token)), signinflow.LinkUserIDNotNil(), signinflow.SubjectNEQ(""))
	if err != nil {
		return "", err
	}
	if s.providers[f.Provider] == nil {
		return "", refusal(apperr.Invalid, ReasonUnknownProvider, "token", "the provider of this link is no longer enabled")
	}
	err = s.link(ctx, f.Provider, claims{Subject: f.Subject, Email: f.Email, EmailVerified: true}, *f.LinkUserID)
	var e *apperr.Error
	if errors.As(err, &e) && e.Reason == ReasonIdentityInUse {
		e.Field = "token"
	}
	return f.Provider, err
}
