// Package account signs users up and in and keeps their profiles.
package account

import (
	"context"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/ratelimit"
)

// Service registers users, signs them in and updates profiles.
type Service struct {
	client     *ent.Client
	tokens     *auth.Tokens
	refreshTTL time.Duration // how long a session lives without a refresh
	// refreshGrace is how long after its rotation a refresh token presented again gets the same new
	// pair (a retry, a second tab) instead of ending its session.
	refreshGrace time.Duration
	limits       LoginLimits
	states       *sessionStates // signed-in sessions' current state, briefly cached (Lookup)
	cache        cache.Store    // cached users it changes are invalidated after commit
}

// LoginLimits bound sign-in attempts, against password guessing, and sign-ups, against bulk
// accounts and probing which names and addresses are taken.
type LoginLimits struct {
	Limiter    ratelimit.Limiter
	PerAccount ratelimit.Limit // attempts on one account, from anywhere
	PerIP      ratelimit.Limit // attempts from one address, on any account
	SignUps    ratelimit.Limit // sign-ups from one address
}

// New returns a Service; sessions expire after refreshTTL without a refresh.
func New(client *ent.Client, c cache.Store, tokens *auth.Tokens, refreshTTL time.Duration, limits LoginLimits) *Service {
	return &Service{client: client, cache: c, tokens: tokens, refreshTTL: refreshTTL, limits: limits, states: newSessionStates()}
}

// userChanged invalidates a user's cached entity after a committed change; a failure leaves it
// stale for at most its TTL.
func (s *Service) userChanged(ctx context.Context, id int) {
	_ = s.cache.Invalidate(ctx, loader.UserKey(id))
}

// RegisterInput is a new account (bound to the GraphQL input of the same name).
type RegisterInput struct {
	Username    string
	Email       string
	Password    string
	DisplayName *string
}

// LoginInput are credentials (bound to the GraphQL input of the same name).
type LoginInput struct {
	UsernameOrEmail string
	Password        string
}

// UpdateProfileInput are profile changes; nil fields stay as they are.
type UpdateProfileInput struct {
	DisplayName *string
	Bio         *string
	AvatarURL   *string `json:"avatarURL"`
}

var usernameRE = regexp.MustCompile(`^[a-z0-9_]{3,32}$`)

// NormalizeUsername lower-cases a username: usernames are unique regardless of case.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Register creates an account and signs in to it.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*Session, error) {
	username := NormalizeUsername(in.Username)
	if !usernameRE.MatchString(username) {
		return nil, apperr.InvalidField("username", "must be 3-32 characters of a-z, 0-9 and _")
	}
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if n := utf8.RuneCountInString(in.Password); n < 8 || n > 256 {
		return nil, apperr.InvalidField("password", "must be 8 to 256 characters")
	}
	displayName := username
	if in.DisplayName != nil {
		if displayName, err = apperr.Text("displayName", *in.DisplayName, 0, 64); err != nil {
			return nil, err
		}
		if displayName == "" {
			displayName = username
		}
	}
	if err := ratelimit.Take(ctx, s.limits.Limiter, "register:ip:"+auth.ClientIP(ctx), s.limits.SignUps, "too many sign-ups: retry later"); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	var out *Session
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		// Checked first for a precise error; the unique indexes still decide under concurrency.
		if taken, err := tx.User.Query().Where(user.Username(username)).Exist(ctx); err != nil {
			return err
		} else if taken {
			return apperr.ConflictField("username", "username %q is taken", username)
		}
		if taken, err := tx.User.Query().Where(user.Email(email)).Exist(ctx); err != nil {
			return err
		} else if taken {
			return apperr.ConflictField("email", "an account with this email address exists")
		}
		u, err := tx.User.Create().
			SetUsername(username).
			SetEmail(email).
			SetPasswordHash(hash).
			SetDisplayName(displayName).
			Save(ctx)
		if err != nil {
			return err
		}
		out, err = s.startSession(ctx, tx, u)
		return err
	})
	if ent.IsConstraintError(err) {
		return nil, apperr.ConflictField("username", "username or email address is taken")
	}
	if err != nil {
		return nil, err
	}
	out.User = out.User.Unwrap()
	s.userChanged(ctx, out.User.ID) // a cached "no such user" for the new ID
	return out, nil
}

// errBadCredentials is the one answer to a wrong username, a wrong email and a wrong password alike.
var errBadCredentials = &apperr.Error{Kind: apperr.Unauthenticated, Message: "wrong username, email or password"}

// Login checks credentials and returns a session. Unknown accounts and wrong passwords get the same
// error after the same work, so responses do not reveal which accounts exist.
func (s *Service) Login(ctx context.Context, in LoginInput) (*Session, error) {
	id := strings.ToLower(strings.TrimSpace(in.UsernameOrEmail))
	if err := s.limitLogin(ctx, id); err != nil {
		return nil, err
	}
	where := user.Username(id)
	if strings.Contains(id, "@") {
		where = user.Email(id)
	}
	u, err := s.client.User.Query().Where(where).Only(ctx)
	if ent.IsNotFound(err) {
		auth.CheckNoPassword(in.Password)
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, err := auth.CheckPassword(u.PasswordHash, in.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBadCredentials
	}
	var out *Session
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) (err error) {
		out, err = s.startSession(ctx, tx, u)
		return err
	})
	return out, err
}

// limitLogin takes one sign-in attempt from the caller's address and one from the account's budget.
func (s *Service) limitLogin(ctx context.Context, account string) error {
	const msg = "too many sign-in attempts: retry later"
	if err := ratelimit.Take(ctx, s.limits.Limiter, "login:ip:"+auth.ClientIP(ctx), s.limits.PerIP, msg); err != nil {
		return err
	}
	return ratelimit.Take(ctx, s.limits.Limiter, "login:account:"+account, s.limits.PerAccount, msg)
}

// UpdateProfile changes the viewer's profile.
func (s *Service) UpdateProfile(ctx context.Context, in UpdateProfileInput) (*ent.User, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	var err error
	var displayName, bio, avatar string
	if in.DisplayName != nil {
		if displayName, err = apperr.Text("displayName", *in.DisplayName, 1, 64); err != nil {
			return nil, err
		}
	}
	if in.Bio != nil {
		if bio, err = apperr.Text("bio", *in.Bio, 0, 2000); err != nil {
			return nil, err
		}
	}
	if in.AvatarURL != nil {
		if avatar, err = checkAvatarURL(*in.AvatarURL); err != nil {
			return nil, err
		}
	}
	var u *ent.User
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		upd := tx.User.UpdateOneID(v.UserID)
		if in.DisplayName != nil {
			upd.SetDisplayName(displayName)
		}
		if in.Bio != nil {
			upd.SetBio(bio)
		}
		if in.AvatarURL != nil {
			upd.SetAvatarURL(avatar)
		}
		u, err = upd.Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.userChanged(ctx, u.ID)
	return u.Unwrap(), nil
}

func normalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "", apperr.InvalidField("email", "must be an email address like name@example.com")
	}
	return s, nil
}

func checkAvatarURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(s) > 2048 {
		return "", apperr.InvalidField("avatarURL", "must be an absolute http(s) URL of at most 2048 characters")
	}
	return s, nil
}
