package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/apollofederatedtracingv1"
	"github.com/agora/agora/graph/generated"
	"github.com/agora/agora/internal/auth"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// fieldHooks chooses, once per operation, the field middleware the operation needs, instead of
// wrapping every field of every operation in all of them (a field middleware costs allocations
// on each field): authorize when the operation selects a field whose rule it must check there,
// the SDL rewrite when it selects Query._service, federated tracing when a router asked for a
// trace. An operation that needs none resolves its fields directly.
//
// A rule that depends on the viewer alone (@authenticated, @requiresScopes) is decided here,
// once, for the operation's viewer, who is the same for every field of it: when the viewer
// passes it, authorize would only call the resolver, so it is not installed for it (the signed-in
// feed, whose root field is @authenticated, then resolves directly, like any public page). A
// rule the viewer fails, and @policy, which depends on the object the field belongs to, leave
// authorize installed, which refuses the field as before.
type fieldHooks struct {
	chains [1 << 3]graphql.FieldMiddleware // by the needs below, ORed
}

const (
	needsAuthorize = 1 << iota // a field with @policy, or a rule the viewer fails
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
func (h *fieldHooks) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	var needs int
	if oc.Operation != nil {
		w := needsWalk{viewer: auth.FromContext(ctx), budget: maxNeedsWalk}
		needs = w.fields(oc.Operation.SelectionSet, 0)
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

// needsWalk walks an operation's selection set, fragments included, for what needs field
// middleware, as viewer sends it.
type needsWalk struct {
	viewer auth.Viewer
	budget int
}

func (w *needsWalk) fields(set ast.SelectionSet, depth int) int {
	needs := 0
	for _, s := range set {
		if w.budget--; w.budget < 0 {
			return needsAuthorize | needsService
		}
		switch s := s.(type) {
		case *ast.Field:
			if s.Definition == nil || !passes(s.Definition, w.viewer) {
				needs |= needsAuthorize
			}
			if depth == 0 && s.Name == "_service" {
				needs |= needsService
			}
			needs |= w.fields(s.SelectionSet, depth+1)
		case *ast.InlineFragment:
			needs |= w.fields(s.SelectionSet, depth)
		case *ast.FragmentSpread:
			if s.Definition == nil {
				needs |= needsAuthorize
				continue
			}
			needs |= w.fields(s.Definition.SelectionSet, depth)
		}
	}
	return needs
}

// passes reports whether v passes every rule of a field that authorize enforces, as far as the
// viewer alone decides it: false for @policy, which authorize checks against the field's object.
func passes(f *ast.FieldDefinition, v auth.Viewer) bool {
	for _, d := range f.Directives {
		if ok, decided := viewerPasses(d, v); d.Name == "policy" || decided && !ok {
			return false
		}
	}
	return true
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
