// Package documents is the server's cache of parsed and validated GraphQL documents (gqlgen's
// query cache), which also remembers the fields each document's selection sets collect.
//
// Collecting a selection set's fields for an object type (graphql.CollectFields: fragments
// spread, fields of the same response name merged) is the same for every operation of a
// document without @skip, @include or @defer, whose variables are the only input besides the
// document. gqlgen remembers collections per operation; the executor (graph/execpatch.go) and
// ent's field collection (ent/entc.go) call CollectFields here, so that a page requested again
// collects nothing.
package documents

import (
	"context"
	"runtime"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// Cache is a graphql.Cache of documents, the least recently used evicted past its size.
type Cache struct {
	mu  sync.Mutex // Add's check of the key's previous document and its replacement, together
	lru *lru.Cache[string, *ast.QueryDocument]
}

var _ graphql.Cache[*ast.QueryDocument] = (*Cache)(nil)

// New returns a cache of at most size documents.
func New(size int) *Cache {
	c, err := lru.NewWithEvict(size, func(_ string, doc *ast.QueryDocument) { forget(doc) })
	if err != nil {
		panic(err) // only for a size < 1
	}
	cache := &Cache{lru: c}
	// A cache no longer used (a test's server) takes its documents' collections with it.
	runtime.AddCleanup(cache, func(c *lru.Cache[string, *ast.QueryDocument]) {
		for _, doc := range c.Values() {
			forget(doc)
		}
	}, c)
	return cache
}

func (c *Cache) Get(_ context.Context, query string) (*ast.QueryDocument, bool) {
	return c.lru.Get(query)
}

// Add caches doc, and remembers its collections when they do not depend on variables. Its
// collections are forgotten with it: when evicted, or replaced by another parse of the same query.
func (c *Cache) Add(_ context.Context, query string, doc *ast.QueryDocument) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(query); ok && old != doc {
		forget(old)
	}
	if !conditional(doc) {
		collections.Lock()
		if _, ok := collections.of[doc]; !ok {
			collections.of[doc] = &collection{fields: map[key][]graphql.CollectedField{}}
		}
		collections.Unlock()
	}
	c.lru.Add(query, doc)
}

// collections are the remembered collections of the cached documents (of every Cache: the
// executor finds them from an operation's document alone).
var collections = struct {
	sync.RWMutex
	of map[*ast.QueryDocument]*collection
}{of: map[*ast.QueryDocument]*collection{}}

func forget(doc *ast.QueryDocument) {
	collections.Lock()
	delete(collections.of, doc)
	collections.Unlock()
}

// collection is one document's collected fields, by selection set and object type.
type collection struct {
	mu         sync.RWMutex
	fields     map[key][]graphql.CollectedField
	remembered int // the collected fields in fields, at most maxRemembered
}

// maxRemembered bounds what one document's collections hold. A page's are a few dozen collected
// fields (about 95 bytes each), but a document within the limits can spread a fragment into
// thousands of selection sets: 10 kB of it, 236 kB parsed, collected 17,500 fields (1.6 MB).
// Past the bound, a document's further collections are the operation's, as gqlgen makes them.
const maxRemembered = 1000

// key is a selection set of the document, by the address of its first selection and its length
// (a document's selection sets do not change once parsed), and the object type's names.
type key struct {
	sel       *ast.Selection
	n         int
	satisfies uint64 // FNV-1a of the names, each ended by a zero byte
}

// CollectFields is graphql.CollectFields(op, sel, satisfies). For a cached document without
// conditional selections, it collects each selection set for each object type once.
func CollectFields(op *graphql.OperationContext, sel ast.SelectionSet, satisfies []string) []graphql.CollectedField {
	collections.RLock()
	c := collections.of[op.Doc]
	collections.RUnlock()
	if c == nil || len(sel) == 0 {
		return graphql.CollectFields(op, sel, satisfies)
	}
	k := key{sel: &sel[0], n: len(sel), satisfies: hash(satisfies)}
	c.mu.RLock()
	fields, ok := c.fields[k]
	c.mu.RUnlock()
	if ok {
		return fields
	}
	fields = graphql.CollectFields(op, sel, satisfies)
	c.mu.Lock()
	if _, ok := c.fields[k]; !ok && c.remembered+len(fields) <= maxRemembered {
		c.fields[k] = fields
		c.remembered += len(fields)
	}
	c.mu.Unlock()
	return fields
}

func hash(names []string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, s := range names {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		h *= prime // the zero byte between names: ["ab"] and ["a", "b"] differ
	}
	return h
}

// conditional reports whether a selection of doc carries @skip, @include or @defer, whose
// arguments may be variables: its collections are then the operation's.
func conditional(doc *ast.QueryDocument) bool {
	for _, op := range doc.Operations {
		if conditionalSet(op.SelectionSet) {
			return true
		}
	}
	for _, f := range doc.Fragments {
		if conditionalSet(f.SelectionSet) {
			return true
		}
	}
	return false
}

func conditionalSet(set ast.SelectionSet) bool {
	for _, s := range set {
		var directives ast.DirectiveList
		var children ast.SelectionSet
		switch s := s.(type) {
		case *ast.Field:
			directives, children = s.Directives, s.SelectionSet
		case *ast.InlineFragment:
			directives, children = s.Directives, s.SelectionSet
		case *ast.FragmentSpread:
			directives = s.Directives // the fragment's own selections are checked in doc.Fragments
		}
		for _, d := range directives {
			if d.Name == "skip" || d.Name == "include" || d.Name == "defer" {
				return true
			}
		}
		if conditionalSet(children) {
			return true
		}
	}
	return false
}
