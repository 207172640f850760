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
var errBadRefresh = &apperr.Error{Kind: apperr.Unauthenticated, Message: "invalid or expired refresh token: sign in again"}

// startSession opens a session for u in tx and returns its credentials.
func (s *Service) startSession(ctx context.Context, tx *ent.Tx, u *ent.User) (*Session, error) {
	now := time.Now().UTC()
	sess, err := tx.Session.Create().
		SetUserID(u.ID).
		SetUserAgent(truncate(auth.UserAgent(ctx), 255)).
		SetExpiresAt(now.Add(s.refreshTTL)).
		Save(system(ctx))
	if err != nil {
		return nil, err
	}
	return s.credentials(ctx, tx, u, sess)
}

// credentials issues a new refresh token for sess and an access token to go with it.
func (s *Service) credentials(ctx context.Context, tx *ent.Tx, u *ent.User, sess *ent.Session) (*Session, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	refresh := base64.RawURLEncoding.EncodeToString(raw)
	if err := tx.RefreshToken.Create().SetHash(hashToken(refresh)).SetSessionID(sess.ID).Exec(system(ctx)); err != nil {
		return nil, err
	}
	access, exp, err := s.tokens.Issue(u.ID, sess.ID)
	if err != nil {
		return nil, err
	}
	return &Session{User: u, AccessToken: access, ExpiresAt: exp, RefreshToken: refresh, RefreshTokenExpiresAt: sess.ExpiresAt}, nil
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// RefreshSession trades a refresh token for a new access token and a new refresh token. Each
// refresh token works once: presenting one that was already rotated means someone else has a copy,
// so the whole session is revoked and both parties must sign in again.
func (s *Service) RefreshSession(ctx context.Context, refresh string) (*Session, error) {
	var out *Session
	var stolen int // session to revoke after the transaction, when a rotated token came back
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		now := time.Now().UTC()
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
			stolen = sess.ID
			return errBadRefresh
		}
		sess, err = tx.Session.UpdateOne(sess).SetLastUsedAt(now).SetExpiresAt(now.Add(s.refreshTTL)).Save(system(ctx))
		if err != nil {
			return err
		}
		out, err = s.credentials(ctx, tx, rt.Edges.Session.Edges.User, sess)
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
			WithUser(func(q *ent.UserQuery) { q.Select(user.FieldRole, user.FieldBannedAt) }).
			Only(system(ctx))
		if err != nil && !ent.IsNotFound(err) {
			return auth.Viewer{}, false, err
		}
		c = sessionState{expires: now.Add(stateTTL)}
		if sess != nil && sess.RevokedAt == nil && now.Before(sess.ExpiresAt) {
			u := sess.Edges.User
			c.ok = true
			c.v = auth.Viewer{UserID: u.ID, SessionID: sess.ID, Role: u.Role.String(), Banned: u.BannedAt != nil}
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
