package documents

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

const page = `query($n: Int!) {
  posts(first: $n) { edges { node { ...post } } }
}
fragment post on Node { id ... on Post { title author { id } } ... on Post { title slug } ... on Comment { body } }`

func parse(t *testing.T, query string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func operation(doc *ast.QueryDocument, vars map[string]any) *graphql.OperationContext {
	return &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: vars}
}

// node is the selection set of posts.edges.node in page.
func node(doc *ast.QueryDocument) ast.SelectionSet {
	posts := doc.Operations[0].SelectionSet[0].(*ast.Field)
	edges := posts.SelectionSet[0].(*ast.Field)
	return edges.SelectionSet[0].(*ast.Field).SelectionSet
}

func names(fields []graphql.CollectedField) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.Alias)
	}
	return out
}

// A cached document's selection set is collected once per object type: two operations get the
// same fields, gqlgen's collection for each.
func TestCollectedOncePerDocument(t *testing.T) {
	c := New(10)
	doc := parse(t, page)
	c.Add(context.Background(), page, doc)

	first := CollectFields(operation(doc, nil), node(doc), []string{"Post", "Node"})
	second := CollectFields(operation(doc, nil), node(doc), []string{"Post", "Node"})
	if want := []string{"id", "title", "author", "slug"}; !slices.Equal(names(first), want) {
		t.Fatalf("collected %v, want %v", names(first), want)
	}
	if &first[0] != &second[0] {
		t.Error("a second operation of the cached document collected its fields again")
	}
	// Another object type is another collection.
	if got, want := names(CollectFields(operation(doc, nil), node(doc), []string{"Comment", "Node"})), []string{"id", "body"}; !slices.Equal(got, want) {
		t.Errorf("for Comment: %v, want %v", got, want)
	}
	// A document not in the cache is collected per operation.
	other := parse(t, page)
	a := CollectFields(operation(other, nil), node(other), []string{"Post", "Node"})
	b := CollectFields(operation(other, nil), node(other), []string{"Post", "Node"})
	if &a[0] == &b[0] {
		t.Error("a document outside the cache shared its collection between operations")
	}
}

// A document with @include (or @skip, @defer) collects with each operation's variables.
func TestConditionalDocumentsPerOperation(t *testing.T) {
	const query = `query($full: Boolean!) { posts { edges { node { id ...more } } } }
fragment more on Post { title @include(if: $full) }`
	c := New(10)
	doc := parse(t, query)
	c.Add(context.Background(), query, doc)
	full := CollectFields(operation(doc, map[string]any{"full": true}), node(doc), []string{"Post"})
	short := CollectFields(operation(doc, map[string]any{"full": false}), node(doc), []string{"Post"})
	if !slices.Equal(names(full), []string{"id", "title"}) || !slices.Equal(names(short), []string{"id"}) {
		t.Errorf("with full: %v; without: %v", names(full), names(short))
	}
}

// A document's collections go with it: when it is evicted, and when another parse of the same
// query replaces it.
func TestCollectionsLeaveWithTheirDocument(t *testing.T) {
	c := New(1)
	ctx := context.Background()
	first, again, other := parse(t, page), parse(t, page), parse(t, page+" ")
	c.Add(ctx, page, first)
	c.Add(ctx, page, again)
	if remembered(first) || !remembered(again) {
		t.Fatalf("after a second parse of the query: first remembered %v, second %v", remembered(first), remembered(again))
	}
	c.Add(ctx, page+" ", other)
	if remembered(again) || !remembered(other) {
		t.Errorf("after eviction: evicted remembered %v, new %v", remembered(again), remembered(other))
	}
}

func remembered(doc *ast.QueryDocument) bool {
	collections.RLock()
	defer collections.RUnlock()
	_, ok := collections.of[doc]
	return ok
}

// A cache no longer used forgets its documents' collections (the runtime's cleanup, after a
// collection: a test's server does not keep its documents for the rest of the process).
func TestCollectionsLeaveWithTheirCache(t *testing.T) {
	doc := parse(t, page)
	func() {
		c := New(10)
		c.Add(context.Background(), page, doc)
		if !remembered(doc) {
			t.Fatal("a cached document has no collections")
		}
	}()
	for i := 0; i < 100 && remembered(doc); i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine
	}
	if remembered(doc) {
		t.Error("the collections of a dropped cache's document are still remembered")
	}
}

// A document's collections hold at most maxRemembered collected fields: a document that spreads
// a fragment into many selection sets collects the rest per operation, with the same result.
func TestCollectionsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("query {")
	for i := range 100 {
		fmt.Fprintf(&b, " f%d { ...F }", i)
	}
	b.WriteString(" }\nfragment F on Post {")
	for i := range 25 {
		fmt.Fprintf(&b, " g%d", i)
	}
	b.WriteString(" }")
	doc := parse(t, b.String())
	New(10).Add(context.Background(), b.String(), doc)
	op := operation(doc, nil)
	for _, s := range doc.Operations[0].SelectionSet {
		sel := s.(*ast.Field).SelectionSet
		first, again := CollectFields(op, sel, []string{"Post"}), CollectFields(op, sel, []string{"Post"})
		if len(first) != 25 || len(again) != 25 {
			t.Fatalf("collected %d and %d fields, want 25", len(first), len(again))
		}
	}
	collections.RLock()
	c := collections.of[doc]
	collections.RUnlock()
	if c.remembered == 0 || c.remembered > maxRemembered || len(c.fields) != maxRemembered/25 {
		t.Errorf("remembered %d collected fields in %d collections; the bound is %d", c.remembered, len(c.fields), maxRemembered)
	}
}
