package server

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/selection"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// defaultPage is what a connection without first or last counts for in the cost.
const defaultPage = 20

// codeOperationLimit is the extensions.code of an operation refused for exceeding a limit.
const codeOperationLimit = apperr.CodeOperationLimit

// operationLimits refuses an operation beyond its limits before anything runs, with the code
// OPERATION_LIMIT and the limit named in extensions, and an argument value that is bad text or
// past the input bounds (see inputMeter) with BAD_USER_INPUT. A request whose extensions ask for
// {"cost": true} gets extensions.cost back.
// Its limits are config.Limits, every value set (by config.Defaults or the environment).
type operationLimits struct {
	config.Limits
	schema *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.ResponseInterceptor
} = operationLimits{}

func (operationLimits) ExtensionName() string                   { return "OperationLimits" }
func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l operationLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	m := l.measure(oc)
	if m.input != nil {
		return m.input
	}
	for _, c := range []struct {
		name       string
		got, limit int
	}{
		{"depth", m.depth, l.Depth},
		{"aliases", m.aliases, l.Aliases},
		{"rootFields", m.roots, l.RootFields},
		{"cost", m.cost, l.Cost},
	} {
		if c.got > c.limit {
			return limitError(c.name, c.got, c.limit)
		}
	}
	return nil
}

func (l operationLimits) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	if asked, _ := oc.Extensions["cost"].(bool); asked && oc.Operation != nil {
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["cost"] = map[string]any{"requested": l.measure(oc).cost, "max": l.Cost}
	}
	return resp
}

type measurement struct {
	depth, aliases, roots, cost int
	input                       *gqlerror.Error // the first bad argument value
}

// measure walks the operation once, fragments inlined, measuring its fields and their arguments.
func (l operationLimits) measure(oc *graphql.OperationContext) measurement {
	var m measurement
	var w selection.Walker
	in := newInputMeter(l.schema, oc.Operation, l.Cost)
	m.roots = len(w.Fields(oc.Operation.SelectionSet))
	m.cost = walk(oc, &w, in, oc.Operation.SelectionSet, &fieldPath{}, &m)
	m.input = in.err
	if w.Exceeded() || in.budget < 0 { // refused on cost, without being walked to the end
		m.cost = math.MaxInt32
	}
	return m
}

// walk measures a selection set at path, fragments inlined, and returns its cost: each field
// counts 1 plus its arguments (see inputMeter), and its selections once per item it may return.
func walk(oc *graphql.OperationContext, w *selection.Walker, in *inputMeter, set ast.SelectionSet, path *fieldPath, m *measurement) int {
	cost := 0
	for _, f := range w.Fields(set) {
		path.push(f.Alias)
		args := in.field(f, oc.Variables, path)
		if strings.HasPrefix(f.Name, "__") { // introspection and __typename: the schema's own size
			path.pop()
			continue
		}
		m.depth = max(m.depth, len(path.names))
		if f.Alias != "" && f.Alias != f.Name {
			m.aliases++
		}
		cost = addCost(cost, addCost(1+args, mulCost(pageOf(f, oc.Variables), walk(oc, w, in, f.SelectionSet, path, m))))
		path.pop()
	}
	return cost
}

// pageOf is how many items a connection field may return: first or last, else the default page;
// 1 for other fields.
func pageOf(f *ast.Field, vars map[string]any) int {
	if f.Definition == nil || !strings.HasSuffix(f.Definition.Type.Name(), "Connection") {
		return 1
	}
	args := f.ArgumentMap(vars)
	for _, name := range []string{"first", "last"} {
		if n, ok := toInt(args[name]); ok && n >= 0 {
			return int(max(n, 1))
		}
	}
	return defaultPage
}

// operationTimeout gives each query and mutation a deadline, which cancels its SQL; a field cut
// short reports TIMEOUT (see the error presenter). Subscriptions live as long as their client.
type operationTimeout struct{ d time.Duration }

func (operationTimeout) ExtensionName() string                   { return "OperationTimeout" }
func (operationTimeout) Validate(graphql.ExecutableSchema) error { return nil }

func (t operationTimeout) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if isSubscription(ctx) {
		return next(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, t.d)
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		defer cancel()
		return responses(ctx)
	}
}
