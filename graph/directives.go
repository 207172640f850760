package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
)

// authenticated implements @authenticated.
func authenticated(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	if !auth.FromContext(ctx).Authenticated() {
		return deny(ctx, apperr.ErrUnauthenticated)
	}
	return next(ctx)
}

// requiresScopes implements @requiresScopes: every scope of at least one inner list.
func requiresScopes(ctx context.Context, _ any, next graphql.Resolver, scopes [][]string) (any, error) {
	v := auth.FromContext(ctx)
	if anyAll(scopes, v.HasScope) {
		return next(ctx)
	}
	if !v.Authenticated() {
		return deny(ctx, apperr.ErrUnauthenticated)
	}
	return deny(ctx, apperr.Forbiddenf("not allowed"))
}

// policies are the named rules @policy can require; obj is the object the field belongs to.
var policies = map[string]func(v auth.Viewer, obj any) bool{
	"self": func(v auth.Viewer, obj any) bool {
		u, ok := obj.(*ent.User)
		return ok && v.Authenticated() && u.ID == v.UserID
	},
	"admin": func(v auth.Viewer, _ any) bool { return v.HasScope(auth.ScopeAdmin) },
}

// policy implements @policy: every policy of at least one inner list. An unknown policy name never
// passes, so a typo denies rather than allows.
func policy(ctx context.Context, obj any, next graphql.Resolver, names [][]string) (any, error) {
	v := auth.FromContext(ctx)
	if anyAll(names, func(name string) bool { p := policies[name]; return p != nil && p(v, obj) }) {
		return next(ctx)
	}
	if !v.Authenticated() {
		return deny(ctx, apperr.ErrUnauthenticated)
	}
	return deny(ctx, apperr.Forbiddenf("not allowed"))
}

// anyAll reports whether every element of at least one group satisfies ok.
func anyAll(groups [][]string, ok func(string) bool) bool {
	for _, g := range groups {
		all := len(g) > 0
		for _, s := range g {
			all = all && ok(s)
		}
		if all {
			return true
		}
	}
	return false
}

// deny answers a refused field: a silent null for a nullable field of an object (field privacy:
// the rest of the object still comes back), the error for root and non-null fields.
func deny(ctx context.Context, err error) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc != nil && fc.Field.Definition != nil && !fc.Field.Definition.Type.NonNull {
		switch fc.Object {
		case "Query", "Mutation", "Subscription":
		default:
			return nil, nil
		}
	}
	return nil, err
}
