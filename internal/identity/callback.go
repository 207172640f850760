package identity

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/identity"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/signinflow"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/ratelimit"
)

// BindingCookie holds the secret that ties a flow to the browser that started it. It is sent only
// to the callback, and SameSite=Lax: the provider's redirect back is a top-level navigation.
const BindingCookie = "agora_signin"

// Handler serves GET /auth/start/{provider} and GET /auth/callback/{provider}.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/start/{provider}", s.serveStart)
	mux.HandleFunc("GET /auth/callback/{provider}", s.serveCallback)
	return mux
}

// fail answers a request that has no trustworthy client page to return to.
func fail(w http.ResponseWriter, status int, reason, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%s: %s\n", reason, msg)
}

// serveStart binds the flow named by state to this browser (once: a second visit is refused, so
// a flow's link cannot be handed to someone else's browser) and sends it to the provider.
func (s *Service) serveStart(w http.ResponseWriter, r *http.Request) {
	name, state := r.PathValue("provider"), r.URL.Query().Get("state")
	p := s.providers[name]
	if p == nil {
		fail(w, http.StatusNotFound, ReasonUnknownProvider, "no sign-in provider of this name is enabled")
		return
	}
	ctx := r.Context()
	binding := random()
	n, err := s.client.SignInFlow.Update().
		Where(signinflow.KeyHash(digest("state", state)), signinflow.Provider(name), signinflow.BindingHashIsNil(),
			signinflow.UserIDIsNil(), signinflow.ExpiresAtGT(time.Now().UTC())).
		SetBindingHash(digest("binding", binding)).
		Save(system(ctx))
	if err != nil {
		s.log.ErrorContext(ctx, "sign-in start", "err", err)
		fail(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal error")
		return
	}
	if n != 1 || state == "" {
		fail(w, http.StatusBadRequest, ReasonStateInvalid, "this sign-in link is unknown, expired or already used: start again")
		return
	}
	f, err := s.client.SignInFlow.Query().Where(signinflow.KeyHash(digest("state", state))).Only(system(ctx))
	if err != nil {
		fail(w, http.StatusBadRequest, ReasonStateInvalid, "this sign-in link is unknown, expired or already used: start again")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: BindingCookie, Value: binding, Path: "/auth/callback/", MaxAge: int(flowTTL / time.Second),
		HttpOnly: true, Secure: s.opts.SecureCookie, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.authCodeURL(state, f.Nonce, f.Verifier), http.StatusFound)
}

// serveCallback finishes a flow: one use of its state, from the browser it was bound to; then the
// provider's answer decides, and the browser goes back to the flow's client page with a ticket
// (sign-in), linked=provider (linkIdentity), or error=REASON.
func (s *Service) serveCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, q := r.PathValue("provider"), r.URL.Query()
	w.Header().Set("Cache-Control", "no-store")
	p := s.providers[name]
	if p == nil {
		fail(w, http.StatusNotFound, ReasonUnknownProvider, "no sign-in provider of this name is enabled")
		return
	}
	cookie, _ := r.Cookie(BindingCookie)
	f, err := s.consume(ctx, name, q.Get("state"), cookie)
	if err != nil {
		s.countFailure(ctx)
		if e, ok := apperr.As(err); ok {
			fail(w, http.StatusBadRequest, e.Reason, e.Message)
		} else {
			s.log.ErrorContext(ctx, "sign-in callback", "err", err)
			fail(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal error")
		}
		return
	}
	// The flow is used up; so is its cookie. (A refused callback leaves it: a forged link opened in
	// this browser must not break the sign-in under way.)
	http.SetCookie(w, &http.Cookie{Name: BindingCookie, Path: "/auth/callback/", MaxAge: -1, HttpOnly: true, Secure: s.opts.SecureCookie, SameSite: http.SameSiteLaxMode})
	back := func(params url.Values) {
		u, _ := url.Parse(f.RedirectURI) // allow-listed when the flow started
		u.RawQuery = params.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	result, err := s.finish(ctx, p, f, q)
	if err != nil {
		reason := "INTERNAL_ERROR" // our fault: in the log only
		if e, ok := apperr.As(err); ok && e.Reason != "" {
			reason = e.Reason
		} else {
			s.log.ErrorContext(ctx, "sign-in through provider", "provider", name, "err", err)
		}
		back(url.Values{"error": {reason}, "provider": {name}})
		return
	}
	back(result)
}

// consume takes the flow of state, once, if this browser holds its binding cookie.
func (s *Service) consume(ctx context.Context, name, state string, cookie *http.Cookie) (*ent.SignInFlow, error) {
	bad := refusal(apperr.Invalid, ReasonStateInvalid, "state", "unknown, expired or used sign-in state, or one this browser did not start: start again")
	if state == "" || cookie == nil || cookie.Value == "" {
		return nil, bad
	}
	return s.takeFlow(ctx, bad, signinflow.KeyHash(digest("state", state)), signinflow.Provider(name),
		signinflow.BindingHash(digest("binding", cookie.Value)), signinflow.UserIDIsNil())
}

// takeFlow removes and returns the unexpired flow matching where, or answers bad. Single use
// across replicas: only the caller whose delete removed the row goes on.
func (s *Service) takeFlow(ctx context.Context, bad error, where ...predicate.SignInFlow) (*ent.SignInFlow, error) {
	f, err := s.client.SignInFlow.Query().
		Where(append(where, signinflow.ExpiresAtGT(time.Now().UTC()))...).
		Only(system(ctx))
	if ent.IsNotFound(err) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if n, err := s.client.SignInFlow.Delete().Where(signinflow.ID(f.ID)).Exec(system(ctx)); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, bad
	}
	return f, nil
}

// countFailure spends one sign-in attempt of the address for a refused callback.
func (s *Service) countFailure(ctx context.Context) {
	_, _ = s.opts.Limiter.Allow(ctx, "login:ip:"+auth.ClientIP(ctx), s.opts.PerIP)
}

// finish reads the provider's answer for flow f and acts on it.
func (s *Service) finish(ctx context.Context, p *provider, f *ent.SignInFlow, q url.Values) (url.Values, error) {
	if e := q.Get("error"); e != "" {
		return nil, refusal(apperr.Unauthenticated, ReasonProviderDenied, "", "the provider refused: "+e)
	}
	c, err := p.identify(s.providerContext(ctx), q.Get("code"), f.Verifier, f.Nonce)
	var rerr *oauth2.RetrieveError
	switch {
	case errors.As(err, &rerr) && rerr.Response != nil && rerr.Response.StatusCode < 500:
		return nil, refusal(apperr.Unauthenticated, ReasonCodeInvalid, "", "the provider refused the code")
	case errors.Is(err, errTokenInvalid):
		s.log.WarnContext(ctx, "ID token refused", "provider", p.name, "err", err)
		return nil, refusal(apperr.Unauthenticated, ReasonTokenInvalid, "", "the provider's token failed verification")
	case err != nil: // down, or answering errors
		s.log.WarnContext(ctx, "identity provider failed", "provider", p.name, "err", err)
		return nil, refusal(apperr.Unavailable, ReasonProviderUnavailable, "", "the provider does not answer: retry later")
	}
	if f.LinkUserID != nil {
		if err := s.link(ctx, p.name, c, *f.LinkUserID); err != nil {
			return nil, err
		}
		return url.Values{"linked": {p.name}}, nil
	}
	userID, err := s.signIn(ctx, p.name, c)
	var exists accountExists
	if errors.As(err, &exists) {
		return s.offerConfirmation(ctx, p, c, exists.userID, f.RedirectURI), nil
	}
	if err != nil {
		return nil, err
	}
	ticket := random()
	err = s.client.SignInFlow.Create().SetKeyHash(digest("ticket", ticket)).SetProvider(p.name).SetRedirectURI(f.RedirectURI).
		SetUserID(userID).SetExpiresAt(time.Now().UTC().Add(ticketTTL)).Exec(system(ctx))
	if err != nil {
		return nil, err
	}
	return url.Values{"ticket": {ticket}}, nil
}

// link attaches identity c at provider to userID, who proved the account is theirs by being
// signed in when the flow started.
func (s *Service) link(ctx context.Context, provider string, c claims, userID int) error {
	return database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		existing, err := tx.Identity.Query().Where(identity.Provider(provider), identity.Subject(c.Subject)).Only(system(ctx))
		switch {
		case ent.IsNotFound(err):
			return tx.Identity.Create().SetUserID(userID).SetProvider(provider).SetSubject(c.Subject).SetEmail(verified(c)).Exec(system(ctx))
		case err != nil:
			return err
		case existing.UserID != userID:
			return refusal(apperr.Conflict, ReasonIdentityInUse, "provider", "this identity already signs another account in")
		default:
			return tx.Identity.UpdateOne(existing).SetEmail(verified(c)).Exec(system(ctx))
		}
	})
}

func verified(c claims) string {
	if c.EmailVerified {
		return c.Email
	}
	return ""
}

// signIn finds the account of identity c, or creates one. It never links an identity to an
// existing account by email: an account with the same address must sign in and link.
func (s *Service) signIn(ctx context.Context, provider string, c claims) (int, error) {
	var userID int
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		existing, err := tx.Identity.Query().Where(identity.Provider(provider), identity.Subject(c.Subject)).WithUser().Only(system(ctx))
		if err == nil {
			if existing.Edges.User.BannedAt != nil {
				return refusal(apperr.Forbidden, ReasonBanned, "", "this account is banned")
			}
			userID = existing.UserID
			if e := verified(c); e != "" && e != existing.Email {
				return tx.Identity.UpdateOne(existing).SetEmail(e).Exec(system(ctx))
			}
			return nil
		}
		if !ent.IsNotFound(err) {
			return err
		}
		if !c.EmailVerified {
			return refusal(apperr.Unauthenticated, ReasonEmailUnverified, "", "the provider gave no verified email address, which a new account needs")
		}
		// Never linked silently: the owner links it signed in (linkIdentity), or by the mail.
		if owner, err := tx.User.Query().Where(user.Email(c.Email)).OnlyID(system(ctx)); err == nil {
			return accountExists{owner}
		} else if !ent.IsNotFound(err) {
			return err
		}
		if err := ratelimit.Take(ctx, s.opts.Limiter, "register:ip:"+auth.ClientIP(ctx), s.opts.SignUps, "too many sign-ups: retry later"); err != nil {
			return refusal(apperr.RateLimited, ReasonRateLimited, "", "too many sign-ups from this address: retry later")
		}
		username, err := freeUsername(ctx, tx, usernameFrom(c.Username, c.Email, c.Name))
		if err != nil {
			return err
		}
		display := c.Name
		if display == "" || len(display) > 64 {
			display = username
		}
		// The provider verified the address: it counts as confirmed.
		u, err := tx.User.Create().SetUsername(username).SetEmail(c.Email).SetEmailVerifiedAt(time.Now().UTC()).
			SetPasswordHash("").SetDisplayName(display).Save(system(ctx))
		if err != nil {
			return err
		}
		userID = u.ID
		return tx.Identity.Create().SetUserID(u.ID).SetProvider(provider).SetSubject(c.Subject).SetEmail(c.Email).Exec(system(ctx))
	})
	return userID, err
}

// freeUsername returns base, or base with a number, that no account has.
func freeUsername(ctx context.Context, tx *ent.Tx, base string) (string, error) {
	candidates := []string{base}
	for i := 0; i < 8; i++ {
		var b [4]byte
		_, _ = rand.Read(b[:])
		candidates = append(candidates, base+"_"+strconv.Itoa(int(binary.BigEndian.Uint32(b[:])%100000)))
	}
	taken, err := tx.User.Query().Where(user.UsernameIn(candidates...)).Select(user.FieldUsername).Strings(system(ctx))
	if err != nil {
		return "", err
	}
	for _, c := range candidates {
		if !slices.Contains(taken, c) {
			return c, nil
		}
	}
	return "", errors.New("no free username found")
}
