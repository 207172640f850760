package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/selection"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// MaxPageSize is the most items one connection returns per request.
const MaxPageSize = 100

// pageLimits checks first/last on every connection field of an operation before anything runs, so
// an oversized page is refused instead of loaded (nested edges are loaded ahead of their resolvers).
type pageLimits struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = pageLimits{}

func (pageLimits) ExtensionName() string                   { return "PageLimits" }
func (pageLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (pageLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	return checkPages(&selection.Walker{}, oc.Operation.SelectionSet, oc.Variables, &fieldPath{})
}

func checkPages(w *selection.Walker, set ast.SelectionSet, vars map[string]any, path *fieldPath) *gqlerror.Error {
	for _, f := range w.Fields(set) {
		path.push(f.Alias)
		if err := checkConnection(w, f, vars, path); err != nil {
			return err
		}
		if err := checkPages(w, f.SelectionSet, vars, path); err != nil {
			return err
		}
		path.pop()
	}
	return nil
}

func checkConnection(w *selection.Walker, f *ast.Field, vars map[string]any, path *fieldPath) *gqlerror.Error {
	def := f.Definition
	if def == nil || def.Arguments.ForName("first") == nil ||
		!strings.HasSuffix(def.Type.Name(), "Connection") {
		return nil
	}
	args := f.ArgumentMap(vars)
	given := false
	for _, name := range []string{"first", "last"} {
		n, ok := toInt(args[name])
		if !ok {
			continue
		}
		// entgql refuses both too, but a nested connection's in its parent's collection, which
		// failed the whole list.
		if given {
			return pageError(path.path(), name, "pass first or last, not both")
		}
		given = true
		if n < 0 || n > MaxPageSize {
			return pageError(path.path(), name, fmt.Sprintf("%s must be between 0 and %d", name, MaxPageSize))
		}
	}
	if !given && selectsItems(w, f.SelectionSet) {
		return pageError(path.path(), "first", fmt.Sprintf("pass first or last (at most %d) to page through %s", MaxPageSize, f.Name))
	}
	return nil
}

// selectsItems reports whether a connection's selection asks for items (edges or nodes) rather than
// only totalCount or pageInfo.
func selectsItems(w *selection.Walker, set ast.SelectionSet) bool {
	for _, f := range w.Fields(set) {
		if f.Name == "edges" || f.Name == "nodes" {
			return true
		}
	}
	return false
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// fieldPath is the response path of the field a walk of an operation is at: one array of
// names for the whole walk, pushed and popped, where a path per field was an allocation each
// and a path is needed only for an error.
type fieldPath struct{ names []string }

func (p *fieldPath) push(alias string) {
	if p.names == nil {
		p.names = make([]string, 0, 16) // deeper than most operations: no growth
	}
	p.names = append(p.names, alias)
}
func (p *fieldPath) pop() { p.names = p.names[:len(p.names)-1] }

// path is the path as a response path.
func (p *fieldPath) path() ast.Path {
	out := make(ast.Path, len(p.names))
	for i, name := range p.names {
		out[i] = ast.PathName(name)
	}
	return out
}

func pageError(path ast.Path, field, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Path: path,
		Extensions: map[string]any{"code": apperr.CodeInvalid, "field": field}}
}
