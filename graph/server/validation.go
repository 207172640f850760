package server

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/selection"
)

// Validation bounds: gqlgen validates a document with gqlparser's rules before any operation
// limit can look at it, and some rules grow faster than the document. documentLimits refuses the
// documents past these bounds before validation, in one linear pass. No document written for
// Agora's pages comes near them; the documents that reach them validate in milliseconds
// (BenchmarkValidationWorst, docs/security.md).
const (
	// MaxSelections bounds the selections validation reads: each operation and fragment of the
	// document with fragments inlined, an inline fragment's selections counted once more for
	// each inline fragment around it (each is validated on its own again).
	MaxSelections = 10_000
	// MaxOverlaps bounds the field comparisons of the OverlappingFieldsCanBeMerged rule, which
	// compares every two fields answering under one name in a selection set (fragments inlined),
	// reading both fields' selections: quadratic in repeated fields, cubic with fragments.
	// 15,000 repeated fields, within the token limit, took 33 s before this bound.
	MaxOverlaps = 10_000
)

// documentLimits bounds the work of validating a document and coercing its variables, before
// gqlgen does either: it parses the document (linear, within the token limit), and refuses with
// OPERATION_LIMIT a document whose validation would read or compare too much ("selections",
// "overlaps"), a field with more arguments than any field of the schema takes ("arguments"), or
// fragments that expand past selection.MaxVisits selections ("cost", as the operation limits
// would). A fragment cycle is refused as validation would refuse it. Then it checks the
// variables as sent (see inputMeter.variables). Runs after the extensions that choose the
// document (automatic persisted queries, trusted documents); a document that passed validation
// before (it is in the query cache) is not measured again, its variables are.
type documentLimits struct {
	schema  *ast.Schema
	cache   graphql.Cache[*ast.QueryDocument] // gqlgen's: documents that passed validation
	tokens  int                               // the parser's token limit
	maxArgs int                               // the most arguments a field of the schema takes
	cost    int                               // the cost limit
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentLimits{}

func newDocumentLimits(schema *ast.Schema, cache graphql.Cache[*ast.QueryDocument], l config.Limits) documentLimits {
	d := documentLimits{schema: schema, cache: cache, tokens: l.Tokens, cost: l.Cost}
	for _, t := range schema.Types {
		for _, f := range t.Fields {
			d.maxArgs = max(d.maxArgs, len(f.Arguments))
		}
	}
	return d
}

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (d documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	doc, ok := d.cache.Get(ctx, p.Query)
	if !ok {
		var err *gqlerror.Error
		if doc, err = d.Check(p.Query); doc == nil || err != nil {
			return err
		}
	}
	return d.checkVariables(doc, p)
}

// checkVariables checks the variables of the operation to run before gqlparser coerces them
// (see inputMeter.variables).
func (d documentLimits) checkVariables(doc *ast.QueryDocument, p *graphql.RawParams) *gqlerror.Error {
	op := doc.Operations.ForName(p.OperationName)
	if op == nil || len(p.Variables) == 0 {
		return nil // gqlgen refuses a missing operation, and has nothing to coerce
	}
	m := newInputMeter(d.schema, op, d.cost)
	if err := m.variables(op, &selection.Walker{Fragments: doc.Fragments}, p.Variables); err != nil {
		return err
	}
	if m.budget < 0 {
		return limitError("cost", math.MaxInt32, d.cost)
	}
	return nil
}

// Check parses query and refuses it when validating it could cost more than the bounds allow,
// and returns the document it parsed. A query that does not parse passes (nil, nil): gqlgen
// reports the parse error.
func (d documentLimits) Check(query string) (*ast.QueryDocument, *gqlerror.Error) {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, d.tokens)
	if err != nil {
		return nil, nil
	}
	if cycle := selection.Cycle(doc); cycle != nil {
		e := gqlerror.Errorf("Cannot spread fragment %q within itself (%s).", cycle[0], strings.Join(append(cycle, cycle[0]), " → "))
		errcode.Set(e, errcode.ValidationFailed)
		return nil, e
	}
	o := overlapWork{w: selection.Walker{Fragments: doc.Fragments}, paths: map[pathKey]int{}}
	for _, op := range doc.Operations {
		o.merge(o.root(), op.SelectionSet)
	}
	for _, f := range doc.Fragments { // validated on their own too
		o.merge(o.root(), f.SelectionSet)
	}
	switch {
	case o.w.Exceeded():
		return doc, limitError("cost", math.MaxInt32, d.cost) // a fragment bomb: refused on cost, as ever
	case o.args > d.maxArgs:
		return doc, limitError("arguments", o.args, d.maxArgs)
	case o.selections > MaxSelections:
		return doc, limitError("selections", o.selections, MaxSelections)
	case o.overlaps > MaxOverlaps:
		return doc, limitError("overlaps", o.overlaps, MaxOverlaps)
	}
	return doc, nil
}

// overlapWork measures, in one walk of a document with fragments inlined, upper bounds of what
// validating it reads: the selections, and the comparisons of OverlappingFieldsCanBeMerged. That
// rule compares two by two the fields answering under one name in one merged selection set,
// reading both fields' selections, and the fragments spread in it (two fragments read per
// comparison). Fields are grouped by their path of response names from the root: a field joining
// a group of n fields costs n comparisons plus the selections of the n+1 fields, plus its
// fragments compared with theirs. Each inline fragment compares its own selections again.
type overlapWork struct {
	w          selection.Walker
	paths      map[pathKey]int
	groups     []group // by path
	selections int
	overlaps   int
	args       int // the most arguments of one field
}

// group sums the fields merged at one path.
type group struct{ fields, selections, spreads int }

type pathKey struct {
	parent int
	name   string
}

// root starts a path for a selection set validated on its own (an operation, a fragment).
func (o *overlapWork) root() int {
	o.groups = append(o.groups, group{})
	return len(o.groups) - 1
}

// merge measures the fields of set merged at path parent, and returns what set holds, fragments
// inlined: its selections and spreads. Validation compares within set once, and once more for
// each inline fragment around its selections.
func (o *overlapWork) merge(parent int, set ast.SelectionSet) (read, spreads int) {
	before := o.w.Visited()
	fields := o.w.Fields(set)
	read, spreads = o.w.Visited()-before, o.w.Spreads()
	times := 1 + o.w.InlineDepth()
	o.selections += times * read
	o.overlaps += times * spreads * (spreads - 1) // each pair of fragments spread here, two read each
	for _, f := range fields {
		if o.w.Exceeded() || o.selections > MaxSelections || o.overlaps > MaxOverlaps {
			break // refused anyway
		}
		o.args = max(o.args, len(f.Arguments))
		name := f.Alias
		if name == "" {
			name = f.Name
		}
		k := pathKey{parent, name}
		id, ok := o.paths[k]
		if !ok {
			id = o.root()
			o.paths[k] = id
		}
		kids, kidSpreads := o.merge(id, f.SelectionSet)
		g := &o.groups[id]
		o.overlaps += times * (g.fields*(1+kids) + g.selections + 2*kidSpreads*g.spreads)
		g.fields++
		g.selections += kids
		g.spreads += kidSpreads
	}
	return read, spreads
}

// limitError refuses an operation beyond one of its limits.
func limitError(name string, got, limit int) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf("operation %s is %d, above the limit of %d", name, got, limit),
		Extensions: map[string]any{"code": codeOperationLimit, "limit": name, "value": got, "max": limit},
	}
}
