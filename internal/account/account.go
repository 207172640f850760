// Package account signs users up and in and keeps their profiles.
package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/media"
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
	images       *media.Service // avatars uploaded as images
	mail         *Mail          // account mail (SetMail); nil: none is sent
	// requireConfirmed withholds the write scope from accounts whose address is not confirmed.
	requireConfirmed bool
}

// SetImages lets profiles take uploaded avatars (UpdateProfileInput.AvatarImageID).
func (s *Service) SetImages(m *media.Service) { s.images = m }

// LoginLimits bound sign-in attempts, against password guessing, and sign-ups, against bulk
// accounts and probing which names and addresses are taken.
//
// Only failed sign-ins count: a successful one gives back what it took. Guessing from one address
// is stopped by the budgets of that address (on one account, and on all accounts), which a
// stranger elsewhere cannot spend for the owner; the per-account ceiling, above what one address
// can reach, stops guessing spread over many addresses.
type LoginLimits struct {
	Limiter         ratelimit.Limiter
	PerAccount      ratelimit.Limit // failed attempts on one account from one address
	PerAccountTotal ratelimit.Limit // failed attempts on one account from all addresses together (zero: no ceiling)
	PerIP           ratelimit.Limit // failed attempts from one address, on any account
	SignUps         ratelimit.Limit // sign-ups from one address
}

// New returns a Service; sessions expire after refreshTTL without a refresh. The cached users its
// writes change are invalidated by the hooks of the loader's cache.
func New(client *ent.Client, tokens *auth.Tokens, refreshTTL time.Duration, limits LoginLimits) *Service {
	return &Service{client: client, tokens: tokens, refreshTTL: refreshTTL, limits: limits, states: newSessionStates()}
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
	// AvatarImageID is an uploaded AVATAR image of the viewer's: avatarURL becomes its URL.
	AvatarImageID *int `json:"avatarImageID"`
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
		if err := s.queueVerification(ctx, tx, u); err != nil {
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
	return out, nil
}

// errBadCredentials is the one answer to a wrong username, a wrong email and a wrong password alike.
var errBadCredentials = &apperr.Error{Kind: apperr.Unauthenticated, Message: "wrong username, email or password"}

// Login checks credentials and returns a session. Unknown accounts and wrong passwords get the same
// error after the same work, so responses do not reveal which accounts exist.
func (s *Service) Login(ctx context.Context, in LoginInput) (*Session, error) {
	id := strings.ToLower(strings.TrimSpace(in.UsernameOrEmail))
	ip := auth.ClientIP(ctx)
	attempt := loginAttempt{limiter: s.limits.Limiter}
	if err := attempt.take(ctx, "login:ip:"+ip, s.limits.PerIP); err != nil {
		return nil, err
	}
	where := user.Username(id)
	if strings.Contains(id, "@") {
		where = user.Email(id)
	}
	u, err := s.client.User.Query().Where(where).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		attempt.refund(ctx)
		return nil, err
	}
	account := accountKey(u, id)
	if err := attempt.take(ctx, "login:ipaccount:"+ip+":"+account, s.limits.PerAccount); err != nil {
		return nil, err
	}
	if err := attempt.take(ctx, "login:account:"+account, s.limits.PerAccountTotal); err != nil {
		return nil, err
	}
	if u == nil || u.PasswordHash == "" { // no such account, or one that signs in only through a provider
		auth.CheckNoPassword(in.Password)
		return nil, errBadCredentials // counts
	}
	ok, err := auth.CheckPassword(u.PasswordHash, in.Password)
	if err != nil {
		attempt.refund(ctx)
		return nil, err
	}
	if !ok {
		return nil, errBadCredentials // counts
	}
	attempt.refund(ctx) // a successful sign-in costs no budget
	var out *Session
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) (err error) {
		out, err = s.startSession(ctx, tx, u)
		return err
	})
	return out, err
}

// accountKey names the account a sign-in is for in budget keys: its user ID when it exists (the
// username and the email address are one account), else a digest of the name given (so that a
// long name cannot make a long key).
func accountKey(u *ent.User, id string) string {
	if u != nil {
		return "user:" + strconv.Itoa(u.ID)
	}
	sum := sha256.Sum256([]byte(id))
	return "name:" + hex.EncodeToString(sum[:16])
}

// loginAttempt takes one sign-in attempt from each of its budgets, and gives them back when the
// attempt does not count: refused by a budget (then it checked nothing), failed for another
// reason than the credentials, or successful.
type loginAttempt struct {
	limiter ratelimit.Limiter
	taken   []struct {
		key   string
		limit ratelimit.Limit
	}
}

const loginRefused = "too many sign-in attempts: retry later"

// take takes one event from key's budget, or refuses the attempt with RATE_LIMITED (giving back
// what it took before). A zero limit is no budget.
func (a *loginAttempt) take(ctx context.Context, key string, l ratelimit.Limit) error {
	if l.Burst == 0 {
		return nil
	}
	if err := ratelimit.Take(ctx, a.limiter, key, l, loginRefused); err != nil {
		a.refund(ctx)
		return err
	}
	a.taken = append(a.taken, struct {
		key   string
		limit ratelimit.Limit
	}{key, l})
	return nil
}

// refund gives back every event the attempt took. A refund that fails (Redis unreachable) leaves
// the event spent: the budget errs on the side of the owner's patience, not the guesser's.
func (a *loginAttempt) refund(ctx context.Context) {
	for _, t := range a.taken {
		_ = a.limiter.Refund(ctx, t.key, t.limit)
	}
	a.taken = nil
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
		if in.AvatarURL != nil || in.AvatarImageID != nil {
			cur, err := tx.User.Get(ctx, v.UserID)
			if err != nil {
				return err
			}
			switch {
			case in.AvatarImageID != nil:
				if in.AvatarURL != nil {
					return apperr.InvalidField("avatarImageID", "give avatarURL or avatarImageID, not both")
				}
				if s.images == nil {
					return apperr.InvalidField("avatarImageID", "image uploads are not enabled")
				}
				img, err := s.images.AttachAvatar(ctx, tx, *in.AvatarImageID, cur.AvatarImageID)
				if err != nil {
					return err
				}
				upd.SetAvatarURL(s.images.PublicURL(img, avatarWidth)).SetAvatarImageID(img.ID)
			default:
				if cur.AvatarImageID != nil {
					if err := s.images.ReleaseImage(ctx, tx, *cur.AvatarImageID); err != nil {
						return err
					}
				}
				upd.SetAvatarURL(avatar).ClearAvatarImageID()
			}
		}
		u, err = upd.Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

// avatarWidth is the stored size an uploaded avatar's URL names: sharp at 128 CSS pixels on a
// 2× screen.
const avatarWidth = 256

// SetMessagePolicyInput is who may send the viewer direct messages (bound to the GraphQL input
// of the same name).
type SetMessagePolicyInput struct {
	Policy user.MessagePolicy
}

// SetMessagePolicy changes who may send the viewer direct messages (internal/message applies it).
func (s *Service) SetMessagePolicy(ctx context.Context, in SetMessagePolicyInput) (*ent.User, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	if err := user.MessagePolicyValidator(in.Policy); err != nil {
		return nil, apperr.InvalidField("policy", "must be EVERYONE, FOLLOWING or NOBODY")
	}
	var u *ent.User
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) (err error) {
		u, err = tx.User.UpdateOneID(v.UserID).SetMessagePolicy(in.Policy).Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
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
