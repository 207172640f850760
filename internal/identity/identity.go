// Package identity signs users in through identity providers — any number of OpenID Connect
// providers, and GitHub — and links the identities they vouch for to Agora accounts.
//
// The flow: startSignIn (or linkIdentity) stores a single-use flow (state, nonce, PKCE verifier,
// the client page to return to) and answers with Agora's /auth/start URL; that page binds the flow
// to the browser with a cookie and sends it to the provider; the provider sends it back to
// /auth/callback, which checks the state against the cookie, trades the code (with the verifier),
// verifies the ID token (signature by the provider's keys, issuer, audience, expiry, nonce), finds
// or creates the account, and sends the browser back to the client page with a single-use ticket;
// completeSignIn trades the ticket for the same session login opens. docs/security.md has the rules.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/identity"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/signinflow"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/mail"
	"github.com/agora/agora/internal/ratelimit"
)

// How long a flow may take from startSignIn to the callback, and a ticket from the callback to
// completeSignIn.
const (
	flowTTL   = 10 * time.Minute
	ticketTTL = 2 * time.Minute
)

// Options configure the Service.
type Options struct {
	PublicURL    string   // Agora's address as browsers reach it (AGORA_PUBLIC_URL)
	RedirectURLs []string // the client pages a sign-in may return to, compared exactly
	OIDC         []ProviderConfig
	GitHub       GitHubConfig // enabled by its ClientID
	HTTPClient   *http.Client // for calls to providers; nil: one with a 10 s timeout
	SecureCookie bool         // the browser-binding cookie is HTTPS-only (production)

	// Outbox, when set, offers the owner of an account whose address a new identity has a link by
	// mail to confirm it at ConfirmURL?token=… (the client page that calls confirmIdentityLink).
	Outbox     *mail.Outbox
	ConfirmURL string

	Limiter ratelimit.Limiter
	PerIP   ratelimit.Limit // sign-in attempts per client address, shared with password sign-ins
	SignUps ratelimit.Limit // new accounts per client address, shared with register
}

// Service runs sign-ins through providers.
type Service struct {
	client   *ent.Client
	accounts *account.Service
	opts     Options
	http     *http.Client
	log      *slog.Logger

	providers map[string]*provider
	order     []string
}

// ProviderInfo is an enabled provider, for the sign-in page.
type ProviderInfo struct {
	Name        string
	DisplayName string
}

// New returns a Service for the providers of opts.
func New(client *ent.Client, accounts *account.Service, log *slog.Logger, opts Options) *Service {
	s := &Service{client: client, accounts: accounts, opts: opts, http: opts.HTTPClient, log: log, providers: map[string]*provider{}}
	if s.http == nil {
		s.http = &http.Client{Timeout: 10 * time.Second}
	}
	callback := func(name string) string { return opts.PublicURL + "/auth/callback/" + name }
	for _, c := range opts.OIDC {
		s.add(&provider{name: c.Name, display: c.DisplayName, issuer: c.Issuer, oauth: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: callback(c.Name),
			Scopes: []string{"openid", "email", "profile"},
		}})
	}
	if g := opts.GitHub; g.ClientID != "" {
		gh := g
		s.add(&provider{name: "github", display: "GitHub", github: &gh, oauth: oauth2.Config{
			ClientID: g.ClientID, ClientSecret: g.ClientSecret, RedirectURL: callback("github"),
			Scopes:   []string{"read:user", "user:email"},
			Endpoint: oauth2.Endpoint{AuthURL: g.WebURL + "/login/oauth/authorize", TokenURL: g.WebURL + "/login/oauth/access_token", AuthStyle: oauth2.AuthStyleInParams},
		}})
	}
	return s
}

func (s *Service) add(p *provider) {
	s.providers[p.name] = p
	s.order = append(s.order, p.name)
}

// Providers lists the enabled providers in their configured order.
func (s *Service) Providers() []*ProviderInfo {
	out := make([]*ProviderInfo, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, &ProviderInfo{Name: n, DisplayName: s.providers[n].display})
	}
	return out
}

// The reasons (extensions.reason, or the error parameter of the redirect to the client) of the
// refusals of a sign-in through a provider.
const (
	ReasonUnknownProvider     = "UNKNOWN_PROVIDER"     // no enabled provider of that name
	ReasonRedirectNotAllowed  = "REDIRECT_NOT_ALLOWED" // redirectURI is not in AGORA_SIGNIN_REDIRECT_URLS
	ReasonProviderUnavailable = "PROVIDER_UNAVAILABLE" // the provider did not answer, or answered with an error
	ReasonStateInvalid        = "STATE_INVALID"        // unknown, expired or used state, or not this browser's
	ReasonProviderDenied      = "PROVIDER_DENIED"      // the provider (or the user there) refused the sign-in
	ReasonCodeInvalid         = "CODE_INVALID"         // the provider refused the code: used, expired, or another client's
	ReasonTokenInvalid        = "TOKEN_INVALID"        // the ID token failed verification: signature, issuer, audience, expiry or nonce
	ReasonEmailUnverified     = "EMAIL_UNVERIFIED"     // a new account needs an address the provider has verified
	ReasonAccountExists       = "ACCOUNT_EXISTS"       // an account has this email address: sign in to it, then linkIdentity
	ReasonIdentityInUse       = "IDENTITY_IN_USE"      // linkIdentity: this identity signs another account in
	ReasonBanned              = "BANNED"               // the account is banned
	ReasonRateLimited         = "RATE_LIMITED"         // too many sign-ins or sign-ups from this address
	ReasonTicketInvalid       = "TICKET_INVALID"       // completeSignIn: unknown, expired or used ticket
	ReasonLastSignInMethod    = "LAST_SIGN_IN_METHOD"  // unlinkIdentity: the account would have no way to sign in
)

func refusal(kind apperr.Kind, reason, field, msg string) *apperr.Error {
	return &apperr.Error{Kind: kind, Reason: reason, Field: field, Message: msg}
}

// system lets identity code do what no viewer may: read and write identities and flows.
func system(ctx context.Context) context.Context { return privacy.DecisionContext(ctx, privacy.Allow) }

// StartSignIn begins a sign-in through provider that returns to redirectURI, and returns the URL
// to send the browser to.
func (s *Service) StartSignIn(ctx context.Context, provider, redirectURI string) (string, error) {
	return s.start(ctx, provider, redirectURI, nil)
}

// LinkIdentity begins linking an identity at provider to the viewer's account: the viewer proves
// the account is theirs by being signed in.
func (s *Service) LinkIdentity(ctx context.Context, provider, redirectURI string) (string, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return "", apperr.ErrUnauthenticated
	}
	return s.start(ctx, provider, redirectURI, &v.UserID)
}

func (s *Service) start(ctx context.Context, name, redirectURI string, linkUser *int) (string, error) {
	p := s.providers[name]
	if p == nil {
		return "", refusal(apperr.Invalid, ReasonUnknownProvider, "provider", "no sign-in provider of this name is enabled (see the providers query)")
	}
	if !slices.Contains(s.opts.RedirectURLs, redirectURI) {
		return "", refusal(apperr.Invalid, ReasonRedirectNotAllowed, "redirectURI", "not a client page sign-ins may return to (AGORA_SIGNIN_REDIRECT_URLS)")
	}
	// Every started sign-in spends one attempt of the address's sign-in budget; a completed one
	// gives it back. This also bounds the flows one address can store.
	if err := ratelimit.Take(ctx, s.opts.Limiter, "login:ip:"+auth.ClientIP(ctx), s.opts.PerIP, "too many sign-in attempts: retry later"); err != nil {
		return "", err
	}
	if err := p.ready(s.providerContext(ctx)); err != nil {
		s.log.WarnContext(ctx, "identity provider unavailable", "provider", name, "err", err)
		return "", refusal(apperr.Unavailable, ReasonProviderUnavailable, "provider", "the provider does not answer: retry later")
	}
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	now := time.Now().UTC()
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		// Expired flows and tickets go as new ones come.
		if _, err := tx.SignInFlow.Delete().Where(signinflow.ExpiresAtLT(now)).Exec(system(ctx)); err != nil {
			return err
		}
		create := tx.SignInFlow.Create().SetKeyHash(digest("state", state)).SetProvider(name).SetRedirectURI(redirectURI).
			SetNonce(nonce).SetVerifier(verifier).SetExpiresAt(now.Add(flowTTL))
		if linkUser != nil {
			create.SetLinkUserID(*linkUser)
		}
		return create.Exec(system(ctx))
	})
	if err != nil {
		return "", err
	}
	return s.opts.PublicURL + "/auth/start/" + name + "?state=" + state, nil
}

// providerContext gives oauth2 and go-oidc the HTTP client for calls to providers.
func (s *Service) providerContext(ctx context.Context) context.Context {
	return oidcClientContext(context.WithValue(ctx, oauth2.HTTPClient, s.http), s.http)
}

// CompleteSignIn trades the ticket the callback gave the client for a session, as login opens.
func (s *Service) CompleteSignIn(ctx context.Context, ticket string) (*account.Session, error) {
	bad := refusal(apperr.Unauthenticated, ReasonTicketInvalid, "ticket", "unknown, expired or used sign-in ticket: sign in again")
	if ticket == "" || len(ticket) > 100 {
		return nil, bad
	}
	f, err := s.takeFlow(ctx, bad, signinflow.KeyHash(digest("ticket", ticket)), signinflow.UserIDNotNil())
	if err != nil {
		return nil, err
	}
	sess, err := s.accounts.OpenSession(ctx, *f.UserID)
	if errors.Is(err, account.ErrBanned) {
		return nil, refusal(apperr.Forbidden, ReasonBanned, "", "this account is banned")
	}
	if err != nil {
		return nil, err
	}
	_ = s.opts.Limiter.Refund(ctx, "login:ip:"+auth.ClientIP(ctx), s.opts.PerIP)
	return sess, nil
}

// Identities lists a user's linked identities, oldest first.
func (s *Service) Identities(ctx context.Context, userID int) ([]*ent.Identity, error) {
	return s.client.Identity.Query().Where(identity.UserID(userID)).Order(ent.Asc(identity.FieldID)).All(system(ctx))
}

// UnlinkIdentity removes the viewer's identity at provider, unless it is the account's last way to
// sign in (no password, no other identity).
func (s *Service) UnlinkIdentity(ctx context.Context, provider string) (*ent.User, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	var u *ent.User
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		var err error
		// Read the account first, through the update path, so that two unlinks at once are
		// serialized on its row (PostgreSQL) or on the database (SQLite).
		if u, err = tx.User.UpdateOneID(v.UserID).SetUpdatedAt(time.Now().UTC()).Save(system(ctx)); err != nil {
			return err
		}
		ids, err := tx.Identity.Query().Where(identity.UserID(v.UserID)).All(system(ctx))
		if err != nil {
			return err
		}
		i := slices.IndexFunc(ids, func(id *ent.Identity) bool { return id.Provider == provider })
		if i < 0 {
			return &apperr.Error{Kind: apperr.NotFound, Field: "provider", Message: "no identity at this provider is linked to the account"}
		}
		if u.PasswordHash == "" && len(ids) == 1 {
			return refusal(apperr.Conflict, ReasonLastSignInMethod, "provider", "this is the account's only way to sign in: set a password (setPassword) or link another identity first")
		}
		return tx.Identity.DeleteOneID(ids[i].ID).Exec(system(ctx))
	})
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// digest is how flows store their keys and cookies: a stolen database row cannot be replayed.
func digest(label, s string) string {
	sum := sha256.Sum256([]byte(label + ":" + s))
	return hex.EncodeToString(sum[:])
}

// usernameFrom derives a username candidate from what the provider suggests: a-z, 0-9 and _, 3 to
// 32 characters.
func usernameFrom(suggestions ...string) string {
	for _, s := range suggestions {
		if at := strings.IndexByte(s, '@'); at >= 0 {
			s = s[:at]
		}
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
				b.WriteRune(r)
			case r == '-' || r == '.' || r == ' ':
				b.WriteByte('_')
			}
		}
		name := strings.Trim(b.String(), "_")
		if len(name) > 26 { // room for a suffix
			name = strings.TrimRight(name[:26], "_")
		}
		if len(name) >= 3 {
			return name
		}
	}
	return "user"
}
