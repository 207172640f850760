// Package auth knows who is calling: the Viewer in the context, password hashing, access tokens and
// the HTTP middleware that turns a bearer token into a Viewer.
package auth

import "context"

// Viewer is who makes the request. The zero Viewer is anonymous.
type Viewer struct {
	UserID int    // 0 when anonymous
	Role   string // USER, MODERATOR or ADMIN; empty when anonymous
}

// Authenticated reports whether the viewer is signed in.
func (v Viewer) Authenticated() bool { return v.UserID != 0 }

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
