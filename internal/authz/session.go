package authz

import (
	"context"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/session"
	"github.com/agora/agora/internal/auth"
)

// FilterSessions shows users their own sessions only (admins see all).
func FilterSessions() privacy.QueryRule {
	return privacy.SessionQueryRuleFunc(func(ctx context.Context, q *ent.SessionQuery) error {
		if v := auth.FromContext(ctx); !v.Admin() {
			q.Where(session.UserID(v.UserID))
		}
		return privacy.Skip
	})
}

// OwnSessions lets signed-in users revoke their own sessions; creating them is the system's job.
func OwnSessions() privacy.MutationRule {
	return privacy.SessionMutationRuleFunc(func(ctx context.Context, m *ent.SessionMutation) error {
		v := auth.FromContext(ctx)
		if !v.Authenticated() || m.Op().Is(ent.OpCreate) {
			return privacy.Denyf("sessions are created by signing in")
		}
		m.Where(session.UserID(v.UserID))
		return privacy.Allow
	})
}
