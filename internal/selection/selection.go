// Package selection walks the selections of a GraphQL operation, fragments inlined, within a
// bound: fragments spread into fragments can expand a small document exponentially, so every walk
// counts what it visits and stops past a budget.
package selection

import "github.com/vektah/gqlparser/v2/ast"

// MaxVisits is the budget of one operation's walks: more selections than any operation within the
// server's limits has.
const MaxVisits = 100_000

// Walker walks one operation. Its budget is shared by every walk it makes; the zero value has
// MaxVisits.
type Walker struct {
	Max     int // 0: MaxVisits
	visited int
}

// Exceeded reports whether a walk stopped at the budget: what it returned is incomplete.
func (w *Walker) Exceeded() bool { return w.visited > w.max() }

func (w *Walker) max() int {
	if w.Max > 0 {
		return w.Max
	}
	return MaxVisits
}

// Fields lists the fields of a selection set with inline fragments and fragment spreads inlined,
// whatever their type condition.
func (w *Walker) Fields(set ast.SelectionSet) []*ast.Field {
	var out []*ast.Field
	w.fields(set, &out)
	return out
}

func (w *Walker) fields(set ast.SelectionSet, out *[]*ast.Field) {
	for _, sel := range set {
		if w.visited++; w.Exceeded() {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			*out = append(*out, s)
		case *ast.InlineFragment:
			w.fields(s.SelectionSet, out)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				w.fields(s.Definition.SelectionSet, out)
			}
		}
	}
}

// Walk calls visit for every field under set, depth first, with fragments inlined; visit returns
// false to skip a field's own selections. It stops at the budget.
func (w *Walker) Walk(set ast.SelectionSet, visit func(f *ast.Field) bool) {
	for _, f := range w.Fields(set) {
		if w.Exceeded() {
			return
		}
		if visit(f) {
			w.Walk(f.SelectionSet, visit)
		}
	}
}

// Names returns the names of every field the operation selects anywhere, and false when the
// operation is too large to walk to the end.
func Names(op *ast.OperationDefinition) (map[string]bool, bool) {
	names := map[string]bool{}
	if op == nil {
		return names, true
	}
	var w Walker
	w.Walk(op.SelectionSet, func(f *ast.Field) bool {
		names[f.Name] = true
		return true
	})
	return names, !w.Exceeded()
}
