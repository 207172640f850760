package account

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
)

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
			database.AfterCommit(ctx, func(context.Context) { s.states.forgetUser(id) })
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
	s.states.forgetUser(id)
	return nil
}
