package server

import (
	"context"
	"reflect"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
)

// authorize enforces @authenticated, @requiresScopes and @policy wherever a field carries them.
// Federation declares them for routers and marks them skip-runtime in generated code; Agora
// enforces them itself, here, whoever sent the operation: fieldHooks installs authorize in every
// operation that selects a field carrying one.
func authorize(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Definition == nil || len(fc.Field.Definition.Directives) == 0 {
		return next(ctx)
	}
	v := auth.FromContext(ctx)
	for _, d := range fc.Field.Definition.Directives {
		ok, decided := viewerPasses(d, v)
		if !decided {
			if d.Name != "policy" {
				continue
			}
			obj := parentObject(fc)
			ok = anyAll(groups(d, "policies"), func(name string) bool { p := policies[name]; return p != nil && p(v, obj) })
		}
		if ok {
			continue
		}
		if !v.Authenticated() {
			return deny(ctx, apperr.ErrUnauthenticated)
		}
		if v.Unconfirmed && !v.Banned && d.Name == "requiresScopes" {
			return deny(ctx, errUnconfirmed)
		}
		return deny(ctx, apperr.Forbiddenf("not allowed"))
	}
	return next(ctx)
}

// viewerPasses decides a rule that depends on the viewer alone (@authenticated, @requiresScopes);
// decided is false for any other directive (@policy depends on the field's object). fieldHooks
// decides these once per operation with it, authorize per field.
func viewerPasses(d *ast.Directive, v auth.Viewer) (ok, decided bool) {
	switch d.Name {
	case "authenticated":
		return v.Authenticated(), true
	case "requiresScopes":
		return anyAll(groups(d, "scopes"), v.HasScope), true
	}
	return false, false
}

// errUnconfirmed refuses writes to accounts whose address is not confirmed, where the server
// requires it (AGORA_REQUIRE_VERIFIED_EMAIL).
var errUnconfirmed = &apperr.Error{Kind: apperr.Forbidden, Reason: "EMAIL_NOT_VERIFIED",
	Message: "confirm your email address first: open the link mailed to it (resendVerificationEmail sends a new one)"}

// groups reads a directive's list-of-lists argument of names.
func groups(d *ast.Directive, arg string) [][]string {
	a := d.Arguments.ForName(arg)
	if a == nil {
		return nil
	}
	var out [][]string
	for _, outer := range a.Value.Children {
		var g []string
		for _, inner := range outer.Value.Children {
			g = append(g, inner.Value.Raw)
		}
		out = append(out, g)
	}
	return out
}

// parentObject is the object a field belongs to, as its parent field or list item resolved it:
// list items hold a pointer to their element, which may be an interface (node, _entities).
func parentObject(fc *graphql.FieldContext) any {
	if fc.Parent == nil || fc.Parent.Result == nil {
		return nil
	}
	v := reflect.ValueOf(fc.Parent.Result)
	for v.Kind() == reflect.Pointer && (v.Elem().Kind() == reflect.Pointer || v.Elem().Kind() == reflect.Interface) {
		v = v.Elem()
		if v.Kind() == reflect.Interface {
			v = v.Elem()
		}
	}
	if !v.IsValid() {
		return nil
	}
	return v.Interface()
}

// policies are the named rules @policy can require; obj is the object the field belongs to. An
// unknown name never passes, so a typo denies rather than allows.
var policies = map[string]func(v auth.Viewer, obj any) bool{
	"self": func(v auth.Viewer, obj any) bool {
		u, ok := obj.(*ent.User)
		return ok && u != nil && v.Authenticated() && u.ID == v.UserID
	},
	"admin": func(v auth.Viewer, _ any) bool { return v.HasScope(auth.ScopeAdmin) },
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
