package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/apollofederatedtracingv1"
	"github.com/agora/agora/graph/generated"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// fieldHooks chooses, once per operation, the field middleware the operation needs, instead of
// wrapping every field of every operation in all of them (a field middleware costs allocations
// on each field): authorize when the operation selects a field that carries a rule, the SDL
// rewrite when it selects Query._service, federated tracing when a router asked for a trace.
// An operation that needs none resolves its fields directly.
type fieldHooks struct {
	chains [1 << 3]graphql.FieldMiddleware // by the needs below, ORed
}

const (
	needsAuthorize = 1 << iota // a field with @authenticated, @requiresScopes or @policy
	needsService               // Query._service, whose SDL omitService rewrites
	needsTrace                 // the ftv1 trace a router asked for
)

// newFieldHooks composes the chains once. omitService, when not nil, rewrites _service's SDL;
// tracer records ftv1 traces.
func newFieldHooks(omitService graphql.FieldMiddleware, tracer *apollofederatedtracingv1.Tracer) *fieldHooks {
	h := &fieldHooks{}
	for needs := range h.chains {
		var mws []graphql.FieldMiddleware // outermost first
		if needs&needsAuthorize != 0 {
			mws = append(mws, authorize)
		}
		if needs&needsService != 0 && omitService != nil {
			mws = append(mws, omitService)
		}
		if needs&needsTrace != 0 {
			mws = append(mws, tracer.InterceptField)
		}
		h.chains[needs] = chain(mws)
	}
	return h
}

func chain(mws []graphql.FieldMiddleware) graphql.FieldMiddleware {
	switch len(mws) {
	case 0:
		return func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) }
	case 1:
		return mws[0]
	}
	outer, inner := mws[0], chain(mws[1:])
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		return outer(ctx, func(ctx context.Context) (any, error) { return inner(ctx, next) })
	}
}

func (*fieldHooks) ExtensionName() string                   { return "FieldHooks" }
func (*fieldHooks) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext runs after gqlgen set the operation's field middleware, and replaces it.
func (h *fieldHooks) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	var needs int
	if oc.Operation != nil {
		budget := maxNeedsWalk
		needs = fieldNeeds(oc.Operation.SelectionSet, 0, &budget)
	}
	if oc.Headers.Get("apollo-federation-include-trace") == "ftv1" { // the tracer's own test
		needs |= needsTrace
	}
	oc.ResolverMiddleware = h.chains[needs]
	if needs == 0 { // the executor may resolve fields without calling middleware (graph/execpatch.go)
		oc.Stats.SetExtension(generated.DirectFields, true)
	}
	return nil
}

// maxNeedsWalk bounds fieldNeeds' walk (fragments spread many times multiply it): past it, the
// operation is taken to need authorize and the SDL rewrite.
const maxNeedsWalk = 10_000

// fieldNeeds walks a selection set, fragments included, for what needs field middleware.
func fieldNeeds(set ast.SelectionSet, depth int, budget *int) int {
	needs := 0
	for _, s := range set {
		if *budget--; *budget < 0 {
			return needsAuthorize | needsService
		}
		switch s := s.(type) {
		case *ast.Field:
			if s.Definition == nil || hasRule(s.Definition) {
				needs |= needsAuthorize
			}
			if depth == 0 && s.Name == "_service" {
				needs |= needsService
			}
			needs |= fieldNeeds(s.SelectionSet, depth+1, budget)
		case *ast.InlineFragment:
			needs |= fieldNeeds(s.SelectionSet, depth, budget)
		case *ast.FragmentSpread:
			if s.Definition == nil {
				needs |= needsAuthorize
				continue
			}
			needs |= fieldNeeds(s.Definition.SelectionSet, depth, budget)
		}
	}
	return needs
}

// hasRule reports whether a field carries a directive authorize enforces.
func hasRule(f *ast.FieldDefinition) bool {
	for _, d := range f.Directives {
		switch d.Name {
		case "authenticated", "requiresScopes", "policy":
			return true
		}
	}
	return false
}

// ftv1Traces is gqlgen's federated tracer without its field hook, which fieldHooks installs only
// for the operations a router asked a trace of.
type ftv1Traces struct {
	t *apollofederatedtracingv1.Tracer
}

func (f ftv1Traces) ExtensionName() string                     { return f.t.ExtensionName() }
func (f ftv1Traces) Validate(s graphql.ExecutableSchema) error { return f.t.Validate(s) }
func (f ftv1Traces) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return f.t.InterceptOperation(ctx, next)
}
func (f ftv1Traces) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	return f.t.InterceptResponse(ctx, next)
}
