// Package selection walks the selections of a GraphQL operation, fragments inlined, within a
// bound: fragments spread into fragments can expand a small document exponentially, so every walk
// counts what it visits and stops past a budget.
package selection

import (
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
)

// MaxVisits is the budget of one operation's walks: more selections than any operation within the
// server's limits has.
const MaxVisits = 100_000

// Walker walks one operation. Its budget is shared by every walk it makes; the zero value has
// MaxVisits.
type Walker struct {
	Max int // 0: MaxVisits
	// Fragments resolves spreads by name, for a document that was parsed but not validated yet
	// (validation links each spread to its definition). Such a document must have no fragment
	// cycle (see Cycle): the walk would expand one until the budget runs out.
	Fragments ast.FragmentDefinitionList

	visited     int
	found       []*ast.Field                       // every list Fields returned, back to back: one growing array per walk
	inlineDepth int                                // the deepest nesting of inline fragments in the last Fields
	spreads     int                                // the fragment spreads the last Fields expanded
	byName      map[string]*ast.FragmentDefinition // Fragments by name
}

// Exceeded reports whether a walk stopped at the budget: what it returned is incomplete.
func (w *Walker) Exceeded() bool { return w.visited > w.max() }

// Visited is how many selections the walks visited so far.
func (w *Walker) Visited() int { return w.visited }

// InlineDepth is the deepest nesting of inline fragments, one in another, in the selection set
// of the last call of Fields.
func (w *Walker) InlineDepth() int { return w.inlineDepth }

// Spreads is how many fragment spreads the last call of Fields expanded, spreads in fragments
// included.
func (w *Walker) Spreads() int { return w.spreads }

func (w *Walker) max() int {
	if w.Max > 0 {
		return w.Max
	}
	return MaxVisits
}

// Fields lists the fields of a selection set with inline fragments and fragment spreads inlined,
// whatever their type condition.
//
// The lists share one array, each capped at its end: a walk calls Fields once per selection set,
// and a slice each was most of a walk's allocations. A list stays valid after later calls.
func (w *Walker) Fields(set ast.SelectionSet) []*ast.Field {
	if w.found == nil {
		w.found = make([]*ast.Field, 0, 64) // an SPA's operation: a growth or none
	}
	start := len(w.found)
	w.inlineDepth, w.spreads = 0, 0
	w.fields(set, &w.found, 0)
	if len(w.found) == start {
		return nil
	}
	return w.found[start:len(w.found):len(w.found)]
}

func (w *Walker) fields(set ast.SelectionSet, out *[]*ast.Field, inline int) {
	w.inlineDepth = max(w.inlineDepth, inline)
	for _, sel := range set {
		if w.visited++; w.Exceeded() {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			*out = append(*out, s)
		case *ast.InlineFragment:
			w.fields(s.SelectionSet, out, inline+1)
		case *ast.FragmentSpread:
			if def := w.definition(s); def != nil {
				w.spreads++
				w.fields(def.SelectionSet, out, inline)
			}
		}
	}
}

func (w *Walker) definition(s *ast.FragmentSpread) *ast.FragmentDefinition {
	if s.Definition != nil || w.Fragments == nil {
		return s.Definition
	}
	if w.byName == nil {
		w.byName = byName(w.Fragments)
	}
	return w.byName[s.Name]
}

// byName indexes fragments by name; the first of a name wins, as in ForName.
func byName(list ast.FragmentDefinitionList) map[string]*ast.FragmentDefinition {
	m := make(map[string]*ast.FragmentDefinition, len(list))
	for _, def := range list {
		if _, ok := m[def.Name]; !ok {
			m[def.Name] = def
		}
	}
	return m
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
	names := make(map[string]bool, 32)
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

// Selects reports whether the operation selects a field of one of the names anywhere (as far as
// it can be walked), without Names' map.
func Selects(op *ast.OperationDefinition, names ...string) bool {
	if op == nil {
		return false
	}
	found := false
	var w Walker
	w.Walk(op.SelectionSet, func(f *ast.Field) bool {
		found = found || slices.Contains(names, f.Name)
		return !found
	})
	return found
}

// Cycle returns the names of fragments of doc that spread themselves, directly or through
// others (the first cycle found, in spread order), or nil. It reads each fragment once, without
// inlining: linear in the document.
func Cycle(doc *ast.QueryDocument) []string {
	const (
		unseen = iota
		open   // on the current path
		done
	)
	state := make(map[string]int, len(doc.Fragments))
	defs := byName(doc.Fragments)
	var path []string
	var visit func(def *ast.FragmentDefinition) []string
	visit = func(def *ast.FragmentDefinition) []string {
		state[def.Name] = open
		path = append(path, def.Name)
		for _, s := range spreads(def.SelectionSet, nil) {
			switch state[s.Name] {
			case open:
				i := len(path) - 1
				for path[i] != s.Name {
					i--
				}
				return append([]string(nil), path[i:]...)
			case unseen:
				if next := defs[s.Name]; next != nil {
					if cycle := visit(next); cycle != nil {
						return cycle
					}
				}
			}
		}
		path = path[:len(path)-1]
		state[def.Name] = done
		return nil
	}
	for _, def := range doc.Fragments {
		if state[def.Name] == unseen {
			if cycle := visit(def); cycle != nil {
				return cycle
			}
		}
	}
	return nil
}

// spreads appends the fragment spreads anywhere under set, without following them.
func spreads(set ast.SelectionSet, out []*ast.FragmentSpread) []*ast.FragmentSpread {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			out = spreads(s.SelectionSet, out)
		case *ast.InlineFragment:
			out = spreads(s.SelectionSet, out)
		case *ast.FragmentSpread:
			out = append(out, s)
		}
	}
	return out
}
