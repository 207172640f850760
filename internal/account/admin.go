package account

import (
	"fmt"
	"strings"

	"context"
	"sync"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
)

// stateTTL bounds how long a role change or a ban takes to reach a signed-in user's requests.
const stateTTL = 5 * time.Second

// states caches users' current role and ban for stateTTL, so checking them costs no query on most
// requests.
type states struct {
	mu sync.Mutex
	m  map[int]cachedState
}

type cachedState struct {
	v       auth.Viewer
	ok      bool
	expires time.Time
}

// Lookup returns the current state of a user as a Viewer (auth.Lookup).
func (s *Service) Lookup(ctx context.Context, id int) (auth.Viewer, bool, error) {
	now := time.Now()
	s.states.mu.Lock()
	c, hit := s.states.m[id]
	s.states.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.v, c.ok, nil
	}
	u, err := s.client.User.Query().Where(user.ID(id)).Select(user.FieldRole, user.FieldBannedAt).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return auth.Viewer{}, false, err
	}
	c = cachedState{ok: u != nil, expires: now.Add(stateTTL)}
	if u != nil {
		c.v = auth.Viewer{UserID: id, Role: u.Role.String(), Banned: u.BannedAt != nil}
	}
	s.states.mu.Lock()
	if len(s.states.m) > 100_000 { // bound memory; entries are cheap to refill
		clear(s.states.m)
	}
	s.states.m[id] = c
	s.states.mu.Unlock()
	return c.v, c.ok, nil
}

// forget drops a user's cached state after a change, so this replica applies it at once.
func (s *Service) forget(id int) {
	s.states.mu.Lock()
	delete(s.states.m, id)
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
		return err
	})
	if err != nil {
		return nil, err
	}
	s.forget(id)
	return u.Unwrap(), nil
}

// SetRoleByUsername is the operator's way to appoint the first admin (`agora role NAME ADMIN`): it
// runs outside any request, so it bypasses the privacy rules that limit role changes to admins.
func (s *Service) SetRoleByUsername(ctx context.Context, username, roleName string) error {
	role := user.Role(strings.ToUpper(roleName))
	if err := user.RoleValidator(role); err != nil {
		return fmt.Errorf("role must be USER, MODERATOR or ADMIN, not %q", role)
	}
	n, err := s.client.User.Update().
		Where(user.Username(NormalizeUsername(username))).
		SetRole(role).
		Save(privacy.DecisionContext(ctx, privacy.Allow))
	if err == nil && n == 0 {
		err = fmt.Errorf("no user %q", username)
	}
	return err
}
