package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
)

// authenticated implements @authenticated: the field resolves only for a signed-in viewer.
func authenticated(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	if !auth.FromContext(ctx).Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	return next(ctx)
}
