package server

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/agora/agora/graph/scalar"
	"github.com/agora/agora/internal/selection"
)

// Input bounds: what one argument value may hold, whoever wrote it (literal in the document or
// variable) and whatever its input type. A value past them is refused before anything runs with
// BAD_USER_INPUT, the field's path and extensions.field naming the input (e.g. where.or[3]).
const (
	// MaxInputDepth bounds the nesting of input objects and lists in one argument value.
	MaxInputDepth = 10
	// MaxInputList bounds the items of a list of input objects: filters (and, or, edge
	// predicates), a page's worth.
	MaxInputList = 100
	// MaxInputScalarList bounds the items of a list of scalars or enums: IDs, or the entity
	// representations a federation router sends.
	MaxInputScalarList = 1_000
	// MaxReadString bounds the characters of a string in a query's or subscription's arguments:
	// filters, lookups and cursors, which the database compares with many rows. The schema's
	// longest such value is a 200-character search.
	MaxReadString = 1_000
	// MaxWriteString bounds the characters of a string in a mutation's arguments: the longest text
	// the schema takes (a post body). Each input's own limit is stated in the schema and checked
	// by its mutation.
	MaxWriteString = 100_000
)

// The cost of inputs (see Limits.Cost): every value in a field's arguments counts 1 (each input
// object field given, each list item, each scalar), a string one more per stringCostChars
// characters. A value inside an input object that is itself inside an input object counts
// nestedInputCost times as much as one in its parent, and so on at each level: a nested input
// object (and, or, not, an edge predicate) may be evaluated for every row its parent considers,
// as a connection without first counts defaultPage items.
const (
	stringCostChars = 100
	nestedInputCost = defaultPage
)

// inputMeter checks and measures the argument values of an operation's fields against their
// input types: text must be valid UTF-8 without NUL (PostgreSQL refuses NUL, and no Agora text
// holds one), and values stay within the input bounds. It stops measuring once the operation is
// past its cost limit, so its work is bounded by the limit, not by the request.
type inputMeter struct {
	schema    *ast.Schema
	maxString int // MaxReadString or MaxWriteString, by the operation's type
	budget    int // values still to walk before the operation is over its cost limit
	// coercion makes each input object spend as much budget as its type has fields: the work of
	// gqlparser's coercion of variables, which reads every field of an input object's type.
	coercion bool
	err      *gqlerror.Error
	path     []any // where in the argument the walk is: names and list indexes
}

func newInputMeter(schema *ast.Schema, op *ast.OperationDefinition, costLimit int) *inputMeter {
	m := &inputMeter{schema: schema, maxString: MaxReadString, budget: costLimit}
	if op.Operation == ast.Mutation {
		m.maxString = MaxWriteString
	}
	return m
}

// over reports whether the meter stopped: on bad input, or past the cost limit.
func (m *inputMeter) over() bool { return m.err != nil || m.budget < 0 }

// field checks the arguments of f, at path in the response, and returns their cost.
func (m *inputMeter) field(f *ast.Field, vars map[string]any, path *fieldPath) int {
	if f.Definition == nil || len(f.Definition.Arguments) == 0 || m.over() {
		return 0
	}
	values := f.ArgumentMap(vars)
	cost := 0
	for _, def := range f.Definition.Arguments {
		v, ok := values[def.Name]
		if !ok {
			continue
		}
		m.path = append(m.path[:0], def.Name)
		cost = addCost(cost, m.value(def.Type, v, 0, 0))
		if m.err == nil && f.Name == "_entities" && def.Name == "representations" {
			m.representations(v)
		}
		if m.err != nil {
			m.err.Path = path.path()
			return 0
		}
	}
	return cost
}

// variables checks the variables of op as the client sent them, before gqlparser coerces them
// (its coercion reads every field of an input object's type: a megabyte of small objects took
// 0.7 s), against their declared types. A bad value is reported where the operation first uses
// its variable (where.or, not $w.or); past the budget, the operation is refused on cost.
func (m *inputMeter) variables(op *ast.OperationDefinition, w *selection.Walker, vars map[string]any) *gqlerror.Error {
	if len(op.VariableDefinitions) == 0 || len(vars) == 0 {
		return nil
	}
	uses := variableUses(w, op)
	m.coercion = true
	for _, def := range op.VariableDefinitions {
		v, ok := vars[def.Variable]
		if !ok {
			continue
		}
		use, ok := uses[def.Variable]
		if !ok {
			use.input = []any{"$" + def.Variable}
		}
		m.path = append(m.path[:0], use.input...)
		m.value(def.Type, v, use.depth, use.objects)
		if m.err != nil {
			m.err.Path = use.field
			return m.err
		}
		if m.budget < 0 {
			return nil
		}
	}
	return nil
}

// variableUse is where an operation first uses a variable: the field, the path in its argument,
// and the levels of lists and input objects around it there.
type variableUse struct {
	field          ast.Path
	input          []any
	depth, objects int
}

// variableUses finds the first use of each variable in the arguments of op's fields. The walk
// keeps one path and one argument position, and copies them only where it finds a variable: most
// fields and arguments hold none.
func variableUses(w *selection.Walker, op *ast.OperationDefinition) map[string]variableUse {
	uses := map[string]variableUse{}
	var aliases []string // the current field's path
	var arg string       // the current argument
	var steps []any      // the position in its value
	var inValue func(v *ast.Value, depth, objects int)
	inValue = func(v *ast.Value, depth, objects int) {
		if v == nil {
			return
		}
		switch v.Kind {
		case ast.Variable:
			if _, ok := uses[v.Raw]; !ok {
				field := make(ast.Path, len(aliases))
				for i, a := range aliases {
					field[i] = ast.PathName(a)
				}
				uses[v.Raw] = variableUse{field: field, input: append([]any{arg}, steps...), depth: depth, objects: objects}
			}
		case ast.ObjectValue, ast.ListValue:
			if v.Kind == ast.ObjectValue {
				objects++
			}
			for i, child := range v.Children {
				var step any = i
				if v.Kind == ast.ObjectValue {
					step = child.Name
				}
				steps = append(steps, step)
				inValue(child.Value, depth+1, objects)
				steps = steps[:len(steps)-1]
			}
		}
	}
	var inSet func(set ast.SelectionSet)
	inSet = func(set ast.SelectionSet) {
		for _, f := range w.Fields(set) {
			aliases = append(aliases, f.Alias)
			for _, a := range f.Arguments {
				arg = a.Name
				inValue(a.Value, 0, 0)
			}
			inSet(f.SelectionSet)
			aliases = aliases[:len(aliases)-1]
		}
	}
	inSet(op.SelectionSet)
	return uses
}

// value checks v, of type t, at depth levels of objects and lists of which objects are input
// objects, and returns its cost.
func (m *inputMeter) value(t *ast.Type, v any, depth, objects int) int {
	if m.over() {
		return 0
	}
	m.budget--
	weight := inputWeight(objects)
	if v == nil {
		return weight
	}
	if t != nil && t.Elem != nil {
		items, ok := v.([]any)
		if !ok { // a single value given for a list
			return m.value(t.Elem, v, depth, objects)
		}
		limit := MaxInputScalarList
		if def := m.schema.Types[t.Elem.Name()]; def != nil && def.Kind == ast.InputObject {
			limit = MaxInputList
		}
		if len(items) > limit {
			return m.fail("a list of at most %d items, not %d", limit, len(items))
		}
		if depth+1 > MaxInputDepth {
			return m.fail("at most %d levels of nested lists and input objects", MaxInputDepth)
		}
		cost := weight
		for i, item := range items {
			m.path = append(m.path, i)
			cost = addCost(cost, m.value(t.Elem, item, depth+1, objects))
			m.path = m.path[:len(m.path)-1]
		}
		return cost
	}
	var def *ast.Definition
	if t != nil {
		def = m.schema.Types[t.Name()]
	}
	if def != nil && def.Kind == ast.InputObject {
		fields, ok := v.(map[string]any)
		if !ok {
			return weight // not an object: gqlgen refuses it when it reads the argument
		}
		if depth+1 > MaxInputDepth {
			return m.fail("at most %d levels of nested lists and input objects", MaxInputDepth)
		}
		if m.coercion {
			m.budget -= len(def.Fields)
		}
		cost := weight
		for _, fd := range def.Fields { // in the schema's order, for a stable path in errors
			fv, ok := fields[fd.Name]
			if !ok {
				continue
			}
			m.path = append(m.path, fd.Name)
			cost = addCost(cost, m.value(fd.Type, fv, depth+1, objects+1))
			m.path = m.path[:len(m.path)-1]
		}
		return cost
	}
	return m.scalar(v, depth, objects)
}

// scalar checks the value of a scalar or enum. A custom scalar may hold any JSON (federation's
// _Any holds an object): its objects and lists are walked as input objects and lists are.
func (m *inputMeter) scalar(v any, depth, objects int) int {
	weight := inputWeight(objects)
	switch x := v.(type) {
	case string:
		if bad := badText(x); bad != "" {
			return m.fail("%s", bad)
		}
		n := utf8.RuneCountInString(x)
		if n > m.maxString {
			return m.fail("at most %d characters, not %d", m.maxString, n)
		}
		return addCost(weight, mulCost(weight, n/stringCostChars))
	case []any:
		if len(x) > MaxInputScalarList {
			return m.fail("a list of at most %d items, not %d", MaxInputScalarList, len(x))
		}
		if depth+1 > MaxInputDepth {
			return m.fail("at most %d levels of nested lists and input objects", MaxInputDepth)
		}
		cost := weight
		for i, item := range x {
			m.path = append(m.path, i)
			m.budget--
			cost = addCost(cost, m.scalar(item, depth+1, objects))
			m.path = m.path[:len(m.path)-1]
			if m.over() {
				return 0
			}
		}
		return cost
	case map[string]any:
		if depth+1 > MaxInputDepth {
			return m.fail("at most %d levels of nested lists and input objects", MaxInputDepth)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		cost := weight
		for _, k := range keys {
			m.path = append(m.path, k)
			if bad := badText(k); bad != "" {
				return m.fail("a name %s", bad)
			}
			m.budget--
			cost = addCost(cost, m.scalar(x[k], depth+1, objects+1))
			m.path = m.path[:len(m.path)-1]
			if m.over() {
				return 0
			}
		}
		return cost
	}
	return weight
}

// representations checks federation's entity representations: each names an entity type and
// gives its key fields, so that _entities answers a client error for anything else rather than
// failing inside.
func (m *inputMeter) representations(v any) {
	reps, _ := v.([]any)
	union := m.schema.Types["_Entity"]
	for i, r := range reps {
		m.path = append(m.path[:1], i)
		rep, ok := r.(map[string]any)
		if !ok {
			m.fail("a representation must be an object with __typename and the entity's key fields")
			return
		}
		name, _ := rep["__typename"].(string)
		def := m.schema.Types[name]
		if union == nil || def == nil || !slices.Contains(union.Types, name) {
			m.path = append(m.path, "__typename")
			var types []string
			if union != nil {
				types = union.Types
			}
			what := fmt.Sprintf("%q is not", name)
			if name == "" {
				what = "a string naming"
			}
			m.fail("%s an entity type: one of %s", what, strings.Join(types, ", "))
			return
		}
		for _, key := range entityKeys(def) {
			m.path = append(m.path[:2], key)
			kv, ok := rep[key]
			switch fd := def.Fields.ForName(key); {
			case !ok || kv == nil:
				m.fail("the key field %s of %s is missing", key, name)
				return
			case fd != nil && fd.Type.Name() == "ID":
				if _, err := scalar.UnmarshalIntID(kv); err != nil {
					m.fail("not a valid ID")
					return
				}
			}
		}
	}
}

// entityKeys are the fields of the first @key of an entity type (Agora's keys are single fields).
func entityKeys(def *ast.Definition) []string {
	key := def.Directives.ForName("key")
	if key == nil {
		return nil
	}
	fields := key.Arguments.ForName("fields")
	if fields == nil || fields.Value == nil {
		return nil
	}
	return strings.Fields(fields.Value.Raw)
}

// badText says what is wrong with a client's text, or "".
func badText(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL characters"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	return ""
}

// fail stops the meter with a bad-input error at the current path. extensions.field names the
// input as the mutations' own checks do, within their input argument (body, not input.body).
func (m *inputMeter) fail(format string, args ...any) int {
	path := inputPath(m.path)
	m.err = &gqlerror.Error{
		Message:    path + ": " + fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": "BAD_USER_INPUT", "field": strings.TrimPrefix(path, "input.")},
	}
	return 0
}

// inputPath writes a path in an argument as where.or[3].title; a path longer than a few dozen
// elements is cut in the middle.
func inputPath(path []any) string {
	var b strings.Builder
	for i, p := range path {
		if len(path) > 24 && i == 12 {
			b.WriteString(".…")
		}
		if len(path) > 24 && i >= 12 && i < len(path)-12 {
			continue
		}
		switch p := p.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
	}
	return b.String()
}

// inputWeight is what one value counts at a level of input objects.
func inputWeight(objects int) int {
	w := 1
	for i := 1; i < objects; i++ {
		w = mulCost(w, nestedInputCost)
	}
	return w
}

// addCost and mulCost saturate at math.MaxInt32: costs are compared with limits, never wrap.
func addCost(a, b int) int { return min(a+b, math.MaxInt32) }

func mulCost(a, b int) int {
	if a != 0 && b > math.MaxInt32/a {
		return math.MaxInt32
	}
	return min(a*b, math.MaxInt32)
}
