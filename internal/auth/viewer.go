// Package auth knows who is calling: the Viewer in the context, password hashing, access tokens and
// the HTTP middleware that turns a bearer token into a Viewer.
package auth

import "context"

// Roles, in increasing power.
const (
	RoleUser      = "USER"
	RoleModerator = "MODERATOR"
	RoleAdmin     = "ADMIN"
)

// Scopes a viewer can hold; @requiresScopes names them.
const (
	ScopeWrite    = "write"    // signed in, not banned (and confirmed, where required): may create and change their own content
	ScopeModerate = "moderate" // moderators and admins: may hide or delete anyone's posts and comments
	ScopeAdmin    = "admin"    // admins: may change roles and ban users
)

// Viewer is who makes the request. The zero Viewer is anonymous.
type Viewer struct {
	UserID    int    // 0 when anonymous
	SessionID int    // the sign-in the access token belongs to; 0 when anonymous
	Role      string // RoleUser, RoleModerator or RoleAdmin; empty when anonymous
	Banned    bool   // banned users can read but not write
	// Unconfirmed: the server requires a confirmed email address to write
	// (AGORA_REQUIRE_VERIFIED_EMAIL) and this user's is not.
	Unconfirmed bool
}

// Authenticated reports whether the viewer is signed in.
func (v Viewer) Authenticated() bool { return v.UserID != 0 }

// Moderator reports whether the viewer may moderate content (moderators and admins).
func (v Viewer) Moderator() bool { return v.Role == RoleModerator || v.Role == RoleAdmin }

// Admin reports whether the viewer is an admin.
func (v Viewer) Admin() bool { return v.Role == RoleAdmin }

// HasScope reports whether the viewer holds scope. Scopes follow from the role, and a ban takes them all.
func (v Viewer) HasScope(scope string) bool {
	if !v.Authenticated() || v.Banned {
		return false
	}
	switch scope {
	case ScopeWrite:
		return !v.Unconfirmed
	case ScopeModerate:
		return v.Moderator()
	case ScopeAdmin:
		return v.Admin()
	}
	return false
}

type viewerKey struct{}

// WithViewer returns a context carrying v.
func WithViewer(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// FromContext returns the viewer of the request; anonymous when none was set.
func FromContext(ctx context.Context) Viewer {
	v, _ := ctx.Value(viewerKey{}).(Viewer)
	return v
}
