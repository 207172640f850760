package selection

import (
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func parse(t *testing.T, query string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestCycle(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{`{ a { ...A } } fragment A on T { b ...B } fragment B on T { c }`, nil},
		{`fragment A on T { ...A }`, []string{"A"}},
		{`fragment A on T { x { ...B } } fragment B on T { ... on T { ...C } } fragment C on T { ...A }`, []string{"A", "B", "C"}},
		{`fragment A on T { ...B ...B } fragment B on T { ...C } fragment C on T { ...B }`, []string{"B", "C"}},
		{`fragment A on T { ...Unknown }`, nil},
	} {
		if got := Cycle(parse(t, tc.query)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Cycle = %v, want %v", tc.query, got, tc.want)
		}
	}
}

// TestWalkerUnvalidated: on a document not validated yet, spreads resolve by name; the walker
// reports what the last Fields expanded.
func TestWalkerUnvalidated(t *testing.T) {
	doc := parse(t, `{ a ...F ... on T { ... on T { b } } } fragment F on T { c ...G } fragment G on T { d }`)
	w := Walker{Fragments: doc.Fragments}
	var names []string
	for _, f := range w.Fields(doc.Operations[0].SelectionSet) {
		names = append(names, f.Name)
	}
	if want := []string{"a", "c", "d", "b"}; !slices.Equal(names, want) {
		t.Errorf("fields %v, want %v", names, want)
	}
	if w.Spreads() != 2 || w.InlineDepth() != 2 || w.Visited() != 8 {
		t.Errorf("spreads %d, inline depth %d, visited %d; want 2, 2, 8", w.Spreads(), w.InlineDepth(), w.Visited())
	}
	// Without Fragments, an unvalidated spread expands to nothing.
	var bare Walker
	if n := len(bare.Fields(doc.Operations[0].SelectionSet)); n != 2 {
		t.Errorf("without fragments: %d fields, want 2 (a, b)", n)
	}
}
