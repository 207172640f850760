package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/refreshtoken"
	"github.com/agora/agora/ent/session"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
)

// Session is a signed-in session's credentials: a short-lived access token and the refresh token
// that gets the next one.
type Session struct {
	User                  *ent.User
	AccessToken           string
	ExpiresAt             time.Time
	RefreshToken          string
	RefreshTokenExpiresAt time.Time
}

// system lets account code do what no viewer may: create sessions, read refresh tokens.
func system(ctx context.Context) context.Context { return privacy.DecisionContext(ctx, privacy.Allow) }

// errBadRefresh is the one answer to every refresh token that does not work.
var errBadRefresh = &apperr.Error{Kind: apperr.Unauthenticated, Reason: ReasonRefreshInvalid, Message: "invalid or expired refresh token: sign in again"}

// errReplayed answers a refresh token presented again after its grace window: its session has
// ended.
var errReplayed = &apperr.Error{Kind: apperr.Unauthenticated, Reason: ReasonRefreshReused,
	Message: "this refresh token was already used, so the session has ended in case someone else has a copy: sign in again"}

// The reasons (extensions.reason) of refreshSession's UNAUTHENTICATED errors.
const (
	ReasonRefreshInvalid = "REFRESH_TOKEN_INVALID" // unknown, expired, or its session ended
	ReasonRefreshReused  = "REFRESH_TOKEN_REUSED"  // presented again after its grace window: the session ends now
	ReasonRefreshMissing = "REFRESH_TOKEN_MISSING" // neither the argument nor the cookie holds one
)

// ErrNoRefreshToken answers a refreshSession with no token in its input nor in a cookie.
var ErrNoRefreshToken = &apperr.Error{Kind: apperr.Unauthenticated, Reason: ReasonRefreshMissing,
	Message: "no refresh token: pass refreshToken, or (with the refresh cookie) send the cookie login set; else sign in again"}

// startSession opens a session for u in tx and returns its credentials.
func (s *Service) startSession(ctx context.Context, tx *ent.Tx, u *ent.User) (*Session, error) {
	now := time.Now().UTC().Truncate(time.Second)
	sess, err := tx.Session.Create().
		SetUserID(u.ID).
		SetUserAgent(truncate(auth.UserAgent(ctx), 255)).
		SetExpiresAt(now.Add(s.refreshTTL)).
		Save(system(ctx))
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	return s.credentials(ctx, tx, u, sess, base64.RawURLEncoding.EncodeToString(raw), now)
}

// credentials stores refresh, issued at now, as sess's current refresh token and returns it with
// an access token issued at the same second.
func (s *Service) credentials(ctx context.Context, tx *ent.Tx, u *ent.User, sess *ent.Session, refresh string, now time.Time) (*Session, error) {
	if err := tx.RefreshToken.Create().SetHash(hashToken(refresh)).SetSessionID(sess.ID).SetCreatedAt(now).Exec(system(ctx)); err != nil {
		return nil, err
	}
	return s.issue(u, sess, refresh, now)
}

// issue is the credentials of sess with refresh token refresh, created at created: the same
// access token and expiry times whenever it is called again for that token.
func (s *Service) issue(u *ent.User, sess *ent.Session, refresh string, created time.Time) (*Session, error) {
	access, exp, err := s.tokens.IssueAt(u.ID, sess.ID, created)
	if err != nil {
		return nil, err
	}
	return &Session{User: u, AccessToken: access, ExpiresAt: exp, RefreshToken: refresh, RefreshTokenExpiresAt: sess.ExpiresAt.UTC()}, nil
}

// rotationLabel separates the refresh-token derivation from any other use of the signing keys.
const rotationLabel = "agora refresh token rotation"

// successors are the refresh tokens that replace refresh, one per signing key (the current key's
// first): derived from it, not random, so a retried refresh finds the token its first try issued
// without anyone storing it — and nobody without refresh can compute it.
func (s *Service) successors(refresh string) []string {
	var out []string
	for _, mac := range s.tokens.Derive(rotationLabel, []byte(refresh)) {
		out = append(out, base64.RawURLEncoding.EncodeToString(mac))
	}
	return out
}

// maxRetriedRotations bounds how many rotations a retried refresh follows to the live token.
const maxRetriedRotations = 5

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// RefreshSession trades a refresh token for a new access token and a new refresh token. Each
// refresh token works once: presenting one that was already rotated means someone else has a copy,
// so the whole session is revoked and both parties must sign in again — unless it comes back
// within the grace window (SetRefreshGrace) of its rotation, as a retried request or a second tab
// sends it: then the answer is the same new pair the first presentation got.
func (s *Service) RefreshSession(ctx context.Context, refresh string) (*Session, error) {
	if refresh == "" {
		return nil, ErrNoRefreshToken
	}
	var out *Session
	var stolen int // session to revoke after the transaction, when a rotated token came back
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		now := time.Now().UTC()
		// The new tokens are issued to the second, so that a retry within the grace window
		// gets exactly the same ones (the access token's times, and the session's expiry).
		issued := now.Truncate(time.Second)
		rt, err := tx.RefreshToken.Query().
			Where(refreshtoken.Hash(hashToken(refresh))).
			WithSession(func(q *ent.SessionQuery) { q.WithUser() }).
			Only(system(ctx))
		if ent.IsNotFound(err) {
			return errBadRefresh
		}
		if err != nil {
			return err
		}
		sess := rt.Edges.Session
		if sess.RevokedAt != nil || now.After(sess.ExpiresAt) {
			return errBadRefresh
		}
		// Only one caller can rotate a token, even when two present it at once.
		n, err := tx.RefreshToken.Update().
			Where(refreshtoken.ID(rt.ID), refreshtoken.RotatedAtIsNil()).
			SetRotatedAt(now).
			Save(system(ctx))
		if err != nil {
			return err
		}
		if n == 0 {
			if out, err = s.retried(ctx, tx, refresh, sess); out != nil || err != nil {
				return err
			}
			stolen = sess.ID
			return errReplayed
		}
		u := sess.Edges.User
		sess, err = tx.Session.UpdateOne(sess).SetLastUsedAt(now).SetExpiresAt(issued.Add(s.refreshTTL)).Save(system(ctx))
		if err != nil {
			return err
		}
		out, err = s.credentials(ctx, tx, u, sess, s.successors(refresh)[0], issued)
		return err
	})
	if stolen != 0 {
		if _, rerr := s.revoke(system(ctx), session.ID(stolen)); rerr != nil {
			return nil, rerr
		}
	}
	if err != nil {
		return nil, err
	}
	out.User = out.User.Unwrap()
	return out, nil
}

// retried answers a refresh token presented again after its rotation: when that rotation (and
// each one after it, up to the live token) happened within the grace window, it is the same client
// retrying, and it gets the pair the rotation issued. nil means a replay.
func (s *Service) retried(ctx context.Context, tx *ent.Tx, refresh string, sess *ent.Session) (*Session, error) {
	if s.refreshGrace <= 0 {
		return nil, nil
	}
	now := time.Now().UTC()
	token := refresh
	for range maxRetriedRotations {
		rt, err := tx.RefreshToken.Query().Where(refreshtoken.Hash(hashToken(token)), refreshtoken.SessionID(sess.ID)).Only(system(ctx))
		if err != nil || rt.RotatedAt == nil || now.Sub(*rt.RotatedAt) > s.refreshGrace {
			return nil, ignoreNotFound(err)
		}
		var next *ent.RefreshToken
		for _, candidate := range s.successors(token) {
			if next, err = tx.RefreshToken.Query().Where(refreshtoken.Hash(hashToken(candidate)), refreshtoken.SessionID(sess.ID)).Only(system(ctx)); err == nil {
				token = candidate
				break
			} else if !ent.IsNotFound(err) {
				return nil, err
			}
		}
		if next == nil { // issued before tokens were derived, or under a key no longer known
			return nil, nil
		}
		if next.RotatedAt == nil {
			// The session's expiry as the rotation set it.
			sess, err := tx.Session.Query().Where(session.ID(sess.ID)).WithUser().Only(system(ctx))
			if err != nil {
				return nil, err
			}
			return s.issue(sess.Edges.User, sess, token, next.CreatedAt)
		}
	}
	return nil, nil
}

func ignoreNotFound(err error) error {
	if ent.IsNotFound(err) {
		return nil
	}
	return err
}

// SetRefreshGrace sets how long after its rotation a refresh token presented again is taken as
// its client's retry rather than a copy's replay (AGORA_REFRESH_GRACE; 0: never).
func (s *Service) SetRefreshGrace(d time.Duration) { s.refreshGrace = d }

// revoke ends the matching live sessions and forgets their cached state, so their access tokens
// stop working at once on this replica (within stateTTL on others). It returns how many it ended.
func (s *Service) revoke(ctx context.Context, where ...predicate.Session) (int, error) {
	ids, err := s.client.Session.Query().Where(append(where, session.RevokedAtIsNil())...).IDs(ctx)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	n, err := s.client.Session.Update().Where(session.IDIn(ids...)).SetRevokedAt(time.Now().UTC()).Save(ctx)
	for _, id := range ids {
		s.states.forgetSession(id)
	}
	return n, err
}

// Logout ends the viewer's current session.
func (s *Service) Logout(ctx context.Context) (int, error) {
	v := auth.FromContext(ctx)
	if _, err := s.revoke(ctx, session.ID(v.SessionID)); err != nil {
		return 0, err
	}
	return v.SessionID, nil
}

// LogoutAll ends every session of the viewer, this one included.
func (s *Service) LogoutAll(ctx context.Context) (int, error) {
	return s.revoke(ctx, session.UserID(auth.FromContext(ctx).UserID))
}

// RevokeSession ends one of the viewer's sessions.
func (s *Service) RevokeSession(ctx context.Context, id int) error {
	n, err := s.revoke(ctx, session.ID(id), session.UserID(auth.FromContext(ctx).UserID))
	if err == nil && n == 0 {
		err = &apperr.Error{Kind: apperr.NotFound, Field: "id", Message: "no such active session"}
	}
	return err
}

// ChangePasswordInput is a password change (bound to the GraphQL input of the same name).
type ChangePasswordInput struct {
	CurrentPassword string
	NewPassword     string
}

// ChangePassword sets a new password after checking the current one, and ends every other session
// of the viewer. It returns the viewer and how many sessions it ended.
func (s *Service) ChangePassword(ctx context.Context, in ChangePasswordInput) (*ent.User, int, error) {
	v := auth.FromContext(ctx)
	if n := utf8.RuneCountInString(in.NewPassword); n < 8 || n > 256 {
		return nil, 0, apperr.InvalidField("newPassword", "must be 8 to 256 characters")
	}
	u, err := s.client.User.Get(ctx, v.UserID)
	if err != nil {
		return nil, 0, err
	}
	if u.PasswordHash == "" {
		return nil, 0, apperr.InvalidField("currentPassword", "this account has no password yet: set one with setPassword")
	}
	if ok, err := auth.CheckPassword(u.PasswordHash, in.CurrentPassword); err != nil {
		return nil, 0, err
	} else if !ok {
		return nil, 0, apperr.InvalidField("currentPassword", "wrong password")
	}
	hash, err := auth.HashPassword(in.NewPassword)
	if err != nil {
		return nil, 0, err
	}
	// The system context: banned users may still secure their account.
	if u, err = s.client.User.UpdateOneID(v.UserID).SetPasswordHash(hash).Save(system(ctx)); err != nil {
		return nil, 0, err
	}
	n, err := s.revoke(ctx, session.UserID(v.UserID), session.IDNEQ(v.SessionID))
	if err != nil {
		return nil, 0, err
	}
	return u, n, nil
}

// Sessions lists a user's live sessions, most recently used first (the 50 latest).
func (s *Service) Sessions(ctx context.Context, userID int) ([]*ent.Session, error) {
	return s.client.Session.Query().
		Where(session.UserID(userID), session.RevokedAtIsNil(), session.ExpiresAtGT(time.Now().UTC())).
		Order(ent.Desc(session.FieldLastUsedAt), ent.Desc(session.FieldID)).
		Limit(50).
		All(ctx)
}

// Lookup returns the current state of a user's session as a Viewer (auth.Lookup): not ok when the
// session was revoked, has expired or is not the user's. It is called on every signed-in request,
// and answers from the states cache for up to stateTTL.
func (s *Service) Lookup(ctx context.Context, userID, sessionID int) (auth.Viewer, bool, error) {
	now := time.Now()
	c, hit := s.states.get(sessionID)
	if !hit || now.After(c.expires) {
		sess, err := s.client.Session.Query().
			Where(session.ID(sessionID)).
			WithUser(func(q *ent.UserQuery) { q.Select(user.FieldRole, user.FieldBannedAt, user.FieldEmailVerifiedAt) }).
			Only(system(ctx))
		if err != nil && !ent.IsNotFound(err) {
			return auth.Viewer{}, false, err
		}
		c = sessionState{expires: now.Add(stateTTL)}
		if sess != nil && sess.RevokedAt == nil && now.Before(sess.ExpiresAt) {
			u := sess.Edges.User
			c.ok = true
			c.v = auth.Viewer{UserID: u.ID, SessionID: sess.ID, Role: u.Role.String(), Banned: u.BannedAt != nil,
				Unconfirmed: s.requireConfirmed && u.EmailVerifiedAt == nil}
			if sess.ExpiresAt.Before(c.expires) {
				c.expires = sess.ExpiresAt
			}
		}
		s.states.put(sessionID, c)
	}
	if !c.ok || c.v.UserID != userID {
		return auth.Viewer{}, false, nil
	}
	return c.v, true, nil
}

// stateTTL bounds how long a role change, a ban or a revoked session takes to reach requests served
// by another replica (this one forgets its cached state at once).
const stateTTL = 5 * time.Second

// sessionStates caches signed-in sessions' current state for stateTTL, so checking it costs no
// query on most requests. It belongs to one Service: what the Service changes (a revoked session,
// a role, a ban) it forgets at once.
type sessionStates struct {
	mu sync.Mutex
	m  map[int]sessionState // by session ID
}

// sessionState is a session's state as Lookup found it: ok false when it was not live.
type sessionState struct {
	v       auth.Viewer
	ok      bool
	expires time.Time
}

func newSessionStates() *sessionStates { return &sessionStates{m: map[int]sessionState{}} }

func (c *sessionStates) get(sessionID int) (sessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[sessionID]
	return st, ok
}

func (c *sessionStates) put(sessionID int, st sessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 100_000 { // bound memory; entries are cheap to refill
		clear(c.m)
	}
	c.m[sessionID] = st
}

// forgetSession drops a session's cached state after it changed.
func (c *sessionStates) forgetSession(id int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// forgetUser drops the cached state of all of a user's sessions after a role change or a ban.
func (c *sessionStates) forgetUser(userID int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, st := range c.m {
		if st.v.UserID == userID {
			delete(c.m, id)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// SetPasswordInput is a first password (bound to the GraphQL input of the same name).
type SetPasswordInput struct {
	NewPassword string
}

// SetPassword gives a password to the viewer's account when it has none (it was created by a
// sign-in through a provider), so that it can also sign in with it. An account with a password
// changes it with ChangePassword, which asks for the current one.
func (s *Service) SetPassword(ctx context.Context, in SetPasswordInput) (*ent.User, error) {
	v := auth.FromContext(ctx)
	if n := utf8.RuneCountInString(in.NewPassword); n < 8 || n > 256 {
		return nil, apperr.InvalidField("newPassword", "must be 8 to 256 characters")
	}
	hash, err := auth.HashPassword(in.NewPassword)
	if err != nil {
		return nil, err
	}
	// Only where there is none: two concurrent calls cannot both set one. The system context:
	// banned users may still secure their account.
	u, err := s.client.User.UpdateOneID(v.UserID).Where(user.PasswordHash("")).SetPasswordHash(hash).Save(system(ctx))
	if ent.IsNotFound(err) {
		return nil, apperr.ConflictField("newPassword", "this account has a password already: change it with changePassword")
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// OpenSession signs user userID in after another proof than a password (a provider's sign-in):
// the same session, tokens and expiry as Login gives. Banned users are refused.
func (s *Service) OpenSession(ctx context.Context, userID int) (*Session, error) {
	var out *Session
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		u, err := tx.User.Get(system(ctx), userID)
		if err != nil {
			return err
		}
		if u.BannedAt != nil {
			return ErrBanned
		}
		out, err = s.startSession(ctx, tx, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	out.User = out.User.Unwrap()
	return out, nil
}

// ErrBanned refuses a banned user a new session through a provider.
var ErrBanned = &apperr.Error{Kind: apperr.Forbidden, Reason: "BANNED", Message: "this account is banned"}

// HasPassword reports whether a user's account has a password (accounts created through a
// provider have none until SetPassword).
func (s *Service) HasPassword(ctx context.Context, userID int) (bool, error) {
	return s.client.User.Query().Where(user.ID(userID), user.PasswordHashNEQ("")).Exist(system(ctx))
}
