package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
	"unicode/utf8"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/predicate"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/refreshtoken"
	"github.com/agora/agora/ent/session"
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
		s.forgetSession(id)
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
