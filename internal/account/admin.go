package account

import (
	"fmt"
	"strings"

	"context"
	"sync"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/session"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
)

// stateTTL bounds how long a role change, a ban or a revoked session takes to reach requests served
// by another replica (this one forgets its cached state at once).
const stateTTL = 5 * time.Second

// states caches signed-in sessions' current state for stateTTL, so checking it costs no query on
// most requests.
type states struct {
	mu sync.Mutex
	m  map[int]cachedState // by session ID
}

type cachedState struct {
	v       auth.Viewer
	ok      bool
	expires time.Time
}

// Lookup returns the current state of a user's session as a Viewer (auth.Lookup): not ok when the
// session was revoked, has expired or is not the user's.
func (s *Service) Lookup(ctx context.Context, userID, sessionID int) (auth.Viewer, bool, error) {
	now := time.Now()
	s.states.mu.Lock()
	c, hit := s.states.m[sessionID]
	s.states.mu.Unlock()
	if !hit || now.After(c.expires) {
		sess, err := s.client.Session.Query().
			Where(session.ID(sessionID)).
			WithUser(func(q *ent.UserQuery) { q.Select(user.FieldRole, user.FieldBannedAt) }).
			Only(system(ctx))
		if err != nil && !ent.IsNotFound(err) {
			return auth.Viewer{}, false, err
		}
		c = cachedState{expires: now.Add(stateTTL)}
		if sess != nil && sess.RevokedAt == nil && now.Before(sess.ExpiresAt) {
			u := sess.Edges.User
			c.ok = true
			c.v = auth.Viewer{UserID: u.ID, SessionID: sess.ID, Role: u.Role.String(), Banned: u.BannedAt != nil}
			if sess.ExpiresAt.Before(c.expires) {
				c.expires = sess.ExpiresAt
			}
		}
		s.states.mu.Lock()
		if len(s.states.m) > 100_000 { // bound memory; entries are cheap to refill
			clear(s.states.m)
		}
		s.states.m[sessionID] = c
		s.states.mu.Unlock()
	}
	if !c.ok || c.v.UserID != userID {
		return auth.Viewer{}, false, nil
	}
	return c.v, true, nil
}

// forgetSession drops a session's cached state after it changed.
func (s *Service) forgetSession(id int) {
	s.states.mu.Lock()
	delete(s.states.m, id)
	s.states.mu.Unlock()
}

// forgetUser drops the cached state of all of a user's sessions after a role change or a ban.
func (s *Service) forgetUser(userID int) {
	s.states.mu.Lock()
	for id, c := range s.states.m {
		if c.v.UserID == userID {
			delete(s.states.m, id)
		}
	}
	s.states.mu.Unlock()
}

// SetRoleInput changes a user's role (bound to the GraphQL input of the same name).
type SetRoleInput struct {
	UserID int `json:"userID"`
	Role   user.Role
}

// SetUserRole changes a user's role; admins only, and not their own (an admin cannot lock the
// last admin out by accident).
func (s *Service) SetUserRole(ctx context.Context, in SetRoleInput) (*ent.User, error) {
	if err := user.RoleValidator(in.Role); err != nil {
		return nil, apperr.InvalidField("role", "must be USER, MODERATOR or ADMIN")
	}
	return s.adminChange(ctx, in.UserID, func(upd *ent.UserUpdateOne) { upd.SetRole(in.Role) })
}

// BanUser bans a user: they can still sign in and read, but not write.
func (s *Service) BanUser(ctx context.Context, id int) (*ent.User, error) {
	return s.adminChange(ctx, id, func(upd *ent.UserUpdateOne) { upd.SetBannedAt(time.Now().UTC()) })
}

// UnbanUser lifts a ban.
func (s *Service) UnbanUser(ctx context.Context, id int) (*ent.User, error) {
	return s.adminChange(ctx, id, func(upd *ent.UserUpdateOne) { upd.ClearBannedAt() })
}

func (s *Service) adminChange(ctx context.Context, id int, change func(*ent.UserUpdateOne)) (*ent.User, error) {
	v := auth.FromContext(ctx)
	if !v.HasScope(auth.ScopeAdmin) {
		return nil, apperr.Forbiddenf("admins only")
	}
	if id == v.UserID {
		return nil, apperr.InvalidField("userID", "admins cannot change their own role or ban themselves")
	}
	var u *ent.User
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		upd := tx.User.UpdateOneID(id)
		change(upd)
		var err error
		u, err = upd.Save(ctx)
		if ent.IsNotFound(err) {
			return &apperr.Error{Kind: apperr.NotFound, Field: "userID", Message: "user not found"}
		}
		if err == nil {
			database.AfterCommit(ctx, func(context.Context) { s.forgetUser(id) })
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

// SetRoleByUsername is the operator's way to appoint the first admin (`agora role NAME ADMIN`): it
// runs outside any request, so it bypasses the privacy rules that limit role changes to admins.
func (s *Service) SetRoleByUsername(ctx context.Context, username, roleName string) error {
	role := user.Role(strings.ToUpper(roleName))
	if err := user.RoleValidator(role); err != nil {
		return fmt.Errorf("role must be USER, MODERATOR or ADMIN, not %q", role)
	}
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	id, err := s.client.User.Query().Where(user.Username(NormalizeUsername(username))).OnlyID(ctx)
	if ent.IsNotFound(err) {
		return fmt.Errorf("no user %q", username)
	}
	if err != nil {
		return err
	}
	if err := s.client.User.UpdateOneID(id).SetRole(role).Exec(ctx); err != nil {
		return err
	}
	s.forgetUser(id)
	return nil
}
