package graph

import (
	"context"
	"time"

	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
)

// refreshTokenOut delivers a session's refresh token: in the HttpOnly cookie in cookie mode (and
// then not in the payload, where page scripts could read it), in the payload otherwise.
func refreshTokenOut(ctx context.Context, s *account.Session) *string {
	if auth.SetRefreshCookie(ctx, s.RefreshToken, s.RefreshTokenExpiresAt) {
		return nil
	}
	return &s.RefreshToken
}

// endRefreshCookie clears the refresh cookie after the session it belongs to ended (logout).
func endRefreshCookie(ctx context.Context) { auth.SetRefreshCookie(ctx, "", time.Time{}) }

// refreshSession trades the refresh token of the input, or else of the cookie, for new tokens. A
// cookie whose token no longer works is cleared, so the browser stops sending it.
func (r *mutationResolver) refreshSession(ctx context.Context, input *string) (*account.Session, error) {
	token, fromCookie := "", false
	if input != nil && *input != "" {
		token = *input
	} else if c, on := auth.RefreshTokenCookie(ctx); on {
		token, fromCookie = c, true
	}
	s, err := r.Accounts.RefreshSession(ctx, token)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Unauthenticated && fromCookie {
		auth.SetRefreshCookie(ctx, "", time.Time{})
	}
	return s, err
}
