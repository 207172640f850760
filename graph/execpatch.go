//go:build ignore

// execpatch trims per-object and per-field work from gqlgen's executor output in
// graph/generated, without changing what it does. `go generate` runs it right after gqlgen
// (server.go). Every object gqlgen marshals computed its response path (an allocation per level
// of depth) and a map for @defer even when nothing was deferred, and every leaf field built the
// same error value anew; these were most of the allocations of a page. The patch:
//   - computes the path and registers the deferred group only when a field was deferred
//     (ProcessDeferredGroup returns at once on an empty group, so behavior is the same);
//   - makes that map and the deferred field set when a deferred field needs them;
//   - builds each leaf type's "does not have child fields" error once (same message);
//   - marshals a leaf field that only reads its object's Go field directly, when the operation
//     has no field middleware (server's fieldHooks says so with the DirectFields extension):
//     ResolveField's field context, context value, closures and boxed result (six or more
//     allocations per leaf) guard nothing there, as reading a field cannot fail or block; a
//     string, Int, ID, Boolean or time is written from the field itself, by pointer;
//   - resolves every other field without directives through resolveDirect in such an operation:
//     the same field context, errors, nulls and panic recovery, without the closures; its
//     context and field context in one allocation (fieldCtx), its arguments coerced once per
//     operation, and an object's concurrent fields resolved in place (resolveNow);
//   - marshals an object's own fields with fieldSet, not graphql.FieldSet (no map of the names
//     written, no iterator; reused once written), collects an object's fields once per
//     operation, and binds a field context's Child and the resolver roots once per operation;
//   - in such an operation, marshals a list's elements one after the other, not each on a goroutine:
//     what they wait for goes through the request's loaders, which batch however late they run
//     (field collection and loader.Prefetch queue the keys first; TestStatementCount holds it);
//   - builds the input unmarshalers' map once, not per operation.
//
// The code they call is written to graph/generated/patch.go.
// It fails when gqlgen's output no longer has the shape it patches, so that an upgrade of gqlgen
// is noticed here rather than silently losing the patch.
package main

import (
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

const dir = "graph/generated"

const deferredGroup = `	atomic.AddInt32(&ec.Deferred, int32(min(len(deferLabelToView), math.MaxInt32)))

	ec.ProcessDeferredGroup(graphql.DeferredGroup{
		Defers:   deferLabelToView,
		Path:     graphql.GetPath(ctx),
		FieldSet: deferredFieldSet,
		Context:  ctx,
	})
`

const deferredGroupOnDemand = `	if len(deferLabelToView) > 0 { // patched by graph/execpatch.go: no path unless something is deferred
		atomic.AddInt32(&ec.Deferred, int32(min(len(deferLabelToView), math.MaxInt32)))
		ec.ProcessDeferredGroup(graphql.DeferredGroup{
			Defers:   deferLabelToView,
			Path:     graphql.GetPath(ctx),
			FieldSet: deferredFieldSet,
			Context:  ctx,
		})
	}
`

var (
	makeViews = regexp.MustCompile(`(?m)^(\t+)deferLabelToView := make\(map\[string\]\*graphql\.FieldSetView\)\n`)
	setView   = regexp.MustCompile(`(?m)^(\t+)deferLabelToView\[deferrable\.Label\] = view\n`)
	makeSet   = regexp.MustCompile(`(?m)^(\t+)deferredFieldSet := graphql\.NewFieldSet\(nil\)\n`)
	addField  = regexp.MustCompile(`(?m)^(\t+)deferredFieldSet\.AddField\(field\)
\t+fieldIndex := len\(deferredFieldSet\.Values\) - 1
\t+deferredFieldSet\.Concurrently\(fieldIndex, func\(ctx context\.Context\) graphql\.Marshaler \{
\t+return innerFunc\(ctx, deferredFieldSet\)
\t+\}\)\n`)
	leafError = regexp.MustCompile(`errors\.New\("field of type (\w+) does not have child fields"\)`)
	// A field resolved through ResolveField without directive middleware: its resolver's body, the
	// type it gives, its marshaler, whether it recovers from a panic and whether it is non-null.
	resolveCall = regexp.MustCompile(`(?m)^(func \(ec \*executionContext\) _\w+\(ctx context\.Context, field graphql\.CollectedField(?:, obj \S+)?\) \(ret graphql\.Marshaler\) \{
)(\treturn graphql\.ResolveField\(
\t\tctx,
\t\tec\.OperationContext,
\t\tfield,
\t\tfunc\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{
\t\t\treturn ec\.(fieldContext_\w+)\(ctx, field\)
\t\t\},
\t\tfunc\(ctx context\.Context\) \(any, error\) \{
((?:\t\t\t.*\n)+?)\t\t\},
\t\tnil,
\t\tfunc\(ctx context\.Context, selections ast\.SelectionSet, v (\S+)\) graphql\.Marshaler \{
\t\t\treturn ec\.(marshal[^(]+)\(ctx, selections, v\)
\t\t\},
\t\t(true|false),
\t\t(true|false),
\t\)
\})`)
	// An object's field that gqlgen resolves concurrently: the call and the null it counts.
	concurrentField = regexp.MustCompile(`(?m)^(\t\tcase "\w+":\n)(\t\t\tfield := field\n\n\t\t\tinnerFunc := func\(ctx context\.Context, invalids \*uint32\) \(res graphql\.Marshaler\) \{
\t\t\t\tdefer func\(\) \{
\t\t\t\t\tif r := recover\(\); r != nil \{
\t\t\t\t\t\tec\.Error\(ctx, ec\.Recover\(ctx, r\)\)
\t\t\t\t\t\}
\t\t\t\t\}\(\)
\t\t\t\tres = (ec\._\w+\(ctx, field, obj\))
\t\t\t\tif res == (graphql\.(?:Null|RequiredNull)) \{
)`)
	// A field context that is not a scalar's: made in place, with an argument map for arguments.
	objectCtxt = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (fieldContext_(\w+))\((_|ctx) context\.Context, field graphql\.CollectedField\) \(fc \*graphql\.FieldContext, err error\) \{
\tfc = &graphql\.FieldContext\{
`)
	// The input unmarshalers' map that Exec builds per operation, and an unmarshaler's body.
	unmarshalMap = regexp.MustCompile(`\tinputUnmarshalMap := graphql\.BuildUnmarshalerMap\(
((?:\t\tec\.unmarshalInput\w+,
)+)\t\)
`)
	unmarshalFunc = regexp.MustCompile(`(?ms)^func \(ec \*executionContext\) unmarshal\w*\(.*?^}$`)
	// A field context's coercion of the field's arguments.
	fieldArgs = regexp.MustCompile(`(\tif fc\.Args, err = )ec\.(field_\w+_args)\(ctx, field\.ArgumentMap\(ec\.Variables\)\); err != nil \{`)
	// The whole of it: its panic recovery, its context for errors, the error reported.
	fieldArgsBody = regexp.MustCompile(`\tdefer func\(\) \{
\t\tif r := recover\(\); r != nil \{
\t\t\terr = ec\.Recover\(ctx, r\)
\t\t\tec\.Error\(ctx, err\)
\t\t\}
\t\}\(\)
\tctx = graphql\.WithFieldContext\(ctx, fc\)
\tif fc\.Args, err = ec\.(field_\w+_args)\(ctx, field\.ArgumentMap\(ec\.Variables\)\); err != nil \{
\t\tec\.Error\(ctx, err\)
\t\treturn fc, err
\t\}
`)
	// A list marshaled by marshalList and returned, after the check of its non-null elements.
	listReturn = regexp.MustCompile(`(?m)^\tret := marshalList\(ctx, len\(v\), (\d+), (true|false), (func\(ctx context\.Context, i int\) graphql\.Marshaler \{
(?:\t\t.*
)+?\t\})\)
((?:
\tfor _, e := range ret \{
\t\tif e == graphql\.Null \{
\t\t\treturn graphql\.Null
\t\t\}
\t\}
)?
\treturn ret
\})`)
	// A call of a resolver root's resolver.
	resolverCall = regexp.MustCompile(`ec\.Resolvers\.(\w+)\(\)\.`)
	// A field context's child fields.
	childField = regexp.MustCompile(`Child: func\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{
\t+return ec\.(childFields_\w+)\(ctx, field\)
\t+\},
`)
	// A resolver that reads a Go field of its object.
	fieldRead = regexp.MustCompile(`^\t\t\treturn obj\.(\w+), nil\n$`)
	execState = "type executionContext struct {\n\t*graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]\n}\n"
	execNew   = "\treturn &executionContext{\n\t\tExecutionContextState: "
	// How gqlgen marshals the query's and the mutation's data (marshalData replaces it).
	queryData     = "\t\t\tvar buf bytes.Buffer\n\t\t\tdata.MarshalGQL(&buf)\n\t\t\tresponse.Data = buf.Bytes()\n"
	mutationData  = "\t\t\tvar buf bytes.Buffer\n\t\t\tdata.MarshalGQL(&buf)\n\n\t\t\treturn &graphql.Response{\n\t\t\t\tData: buf.Bytes(),\n\t\t\t}\n"
	newSet        = "out := graphql.NewFieldSet(fields)\n"
	innerSig      = "innerFunc := func(ctx context.Context, fs *graphql.FieldSet) (res graphql.Marshaler) {"
	collect       = "graphql.CollectFields(ec.OperationContext, sel, "
	scalarMarshal = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (marshal[NO][^(]+)\(ctx context\.Context, sel ast\.SelectionSet, v [^)]+\) graphql\.Marshaler \{
\t_ = sel
(?:\t_ = ctx
)?\tres := ([\w.]+)\(v\)
`)
	// What a leaf's value marshals as, by gqlgen's function and the field's Go type, when it is
	// marshaled from the field itself (patch.go): an allocation less per value.
	fieldMarshalers = map[string]map[string]string{
		"graphql.MarshalString":  {"string": "(*stringField)(&FIELD)"},
		"graphql.MarshalInt":     {"int": "(*intField)(&FIELD)"},
		"scalar.MarshalIntID":    {"int": "(*intIDField)(&FIELD)"},
		"graphql.MarshalBoolean": {"bool": "marshalBool(FIELD)"},
		"scalar.MarshalTime":     {"time.Time": "(*timeField)(&FIELD)"},
	}
	timeMarshal  = "func MarshalTime(t time.Time) graphql.Marshaler { return graphql.MarshalTime(t) }"
	intIDMarshal = "func MarshalIntID(id int) graphql.Marshaler { return graphql.MarshalIntID(id) }"
	scalarCtxt   = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (fieldContext_(\w+))\(_ context\.Context, field graphql\.CollectedField\) \(fc \*graphql\.FieldContext, err error\) \{
\treturn graphql\.NewScalarFieldContext\(`)
	// A scalar field context's whole function: its object, whether it is a method and a resolver,
	// and its leaf type.
	scalarFill = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (fieldContext_(\w+))\(_ context\.Context, field graphql\.CollectedField\) \(fc \*graphql\.FieldContext, err error\) \{
\treturn graphql\.NewScalarFieldContext\(("\w+"), field, (true|false), (true|false), errLeaf(\w+)\)
\}
`)
	// gqlgen's marshaling of an Int, a Boolean or a time, in a leaf type's marshaler: a closure per
	// value. What replaces it writes the same (patch.go).
	scalarValue     = regexp.MustCompile(`(?m)^\tres := (graphql\.MarshalInt|graphql\.MarshalBoolean|scalar\.MarshalTime)\((\*?)v\)$`)
	valueMarshalers = map[string][2]string{ // by value, by pointer
		"graphql.MarshalInt":     {"graphql.Marshaler(intValue(v))", "graphql.Marshaler(intValue(*v))"},
		"graphql.MarshalBoolean": {"marshalBool(v)", "marshalBool(*v)"},
		"scalar.MarshalTime":     {"marshalTime(v)", "marshalTimeAt(v)"},
	}
)

func main() {
	files, err := filepath.Glob(filepath.Join(dir, "*.generated.go"))
	if err != nil || len(files) == 0 {
		fail("no gqlgen output in %s", dir)
	}
	leaves := map[string]bool{}
	// The leaf fields: their field context is a scalar one (no child fields to collect).
	scalar := map[string]bool{}
	// The non-null leaf marshalers that may give null (a zero time) and then report it on the
	// field's path, which needs the field's context.
	nullable := map[string]bool{}
	// The leaf marshalers whose value can be marshaled from its field, by the field's Go type.
	byField := map[string]map[string]string{}
	if src, err := os.ReadFile("graph/scalar/scalar.go"); err != nil || !strings.Contains(string(src), intIDMarshal) || !strings.Contains(string(src), timeMarshal) {
		fail("graph/scalar no longer marshals an ID and a time as gqlgen's MarshalIntID and MarshalTime: update graph/execpatch.go")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fail("%v", err)
		}
		for _, m := range scalarCtxt.FindAllStringSubmatch(string(b), -1) {
			scalar[m[1]] = true
		}
		for _, m := range scalarMarshal.FindAllStringSubmatch(string(b), -1) {
			if strings.HasPrefix(m[1], "marshalN") && (m[2] == "scalar.MarshalTime" || m[2] == "graphql.MarshalTime") {
				nullable[m[1]] = true
			}
			if f, ok := fieldMarshalers[m[2]]; ok {
				byField[m[1]] = f
			}
		}
	}
	direct, resolved, execs, sets, lists, collects, nows, fills, argFields, values := 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
	childIndex := map[string]int{}
	unmarshalers := ""
	execFile := ""
	roots := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fail("%v", err)
		}
		src := string(b)
		if strings.Contains(src, "patched by graph/execpatch.go") {
			fail("%s is patched already: run gqlgen first", f)
		}
		groups := strings.Count(src, deferredGroup)
		if groups != strings.Count(src, "graphql.GetPath(ctx)") || groups != len(makeViews.FindAllString(src, -1)) {
			fail("%s: gqlgen's object marshaling changed shape (%d deferred groups): update graph/execpatch.go", f, groups)
		}
		if n := len(makeSet.FindAllString(src, -1)); n != groups || len(addField.FindAllString(src, -1)) != strings.Count(src, "deferredFieldSet.AddField") {
			fail("%s: gqlgen's deferred field sets changed shape: update graph/execpatch.go", f)
		}
		src = strings.ReplaceAll(src, deferredGroup, deferredGroupOnDemand)
		// The deferred field set is made by the first deferred field; its closure captures a copy,
		// so that the variable itself is not moved to the heap.
		src = makeSet.ReplaceAllString(src, "${1}var deferredFieldSet *graphql.FieldSet\n")
		src = addField.ReplaceAllString(src, `${1}if deferredFieldSet == nil {
${1}	deferredFieldSet = graphql.NewFieldSet(nil)
${1}}
${1}dfs := deferredFieldSet
${1}dfs.AddField(field)
${1}fieldIndex := len(dfs.Values) - 1
${1}dfs.Concurrently(fieldIndex, func(ctx context.Context) graphql.Marshaler {
${1}	return innerFunc(ctx, dfs)
${1}})
`)
		src = makeViews.ReplaceAllString(src, "${1}var deferLabelToView map[string]*graphql.FieldSetView\n")
		src = setView.ReplaceAllString(src, "${1}if deferLabelToView == nil {\n${1}\tdeferLabelToView = map[string]*graphql.FieldSetView{}\n${1}}\n${0}")
		for _, m := range leafError.FindAllStringSubmatch(src, -1) {
			leaves[m[1]] = true
		}
		src = leafError.ReplaceAllString(src, "errLeaf${1}")
		src = resolveCall.ReplaceAllStringFunc(src, func(m string) string {
			g := resolveCall.FindStringSubmatch(m)
			read := fieldRead.FindStringSubmatch(g[4])
			// A leaf's read, unless the value may marshal as null and that be reported on the
			// field's path: a non-null pointer, a zero time (which resolveDirect then reports).
			if read != nil && scalar[g[3]] && !(strings.HasPrefix(g[5], "*") && !strings.HasPrefix(g[6], "marshalO")) {
				direct++
				cond := "ec.direct"
				if nullable[g[6]] || g[5] == "time.Time" { // a time marshals as null only when zero
					cond += " && !obj." + read[1] + ".IsZero()"
				}
				value := "ec." + g[6] + "(ctx, field.Selections, obj." + read[1] + ")"
				if f, ok := byField[g[6]][g[5]]; ok {
					value = strings.ReplaceAll(f, "FIELD", "obj."+read[1])
				}
				return g[1] + "\tif " + cond + " { // patched by graph/execpatch.go: a field read needs no field context\n" +
					"\t\treturn " + value + "\n\t}\n" + g[2]
			}
			resolved++
			return g[1] + "\tif ec.direct { // patched by graph/execpatch.go: no field middleware to call\n" +
				"\t\treturn resolveDirect(ctx, ec, field, ec.fillContext_" + strings.TrimPrefix(g[3], "fieldContext_") + ", func(ctx context.Context) (" + g[5] + ", error) {\n" +
				g[4] + "\t\t}, ec." + g[6] + ", " + fmt.Sprint(!scalar[g[3]] && !strings.HasPrefix(g[5], "[]")) + ", " + g[7] + ", " + g[8] + ")\n\t}\n" + g[2]
		})
		// An object's own fields go to fieldSet (patch.go); deferred ones stay in a graphql.FieldSet,
		// so a field's closure takes the counter of invalid fields rather than either set.
		sets += strings.Count(src, newSet)
		src = strings.ReplaceAll(src, newSet, "out := newFieldSet(fields) // patched by graph/execpatch.go: see fieldSet\n")
		if strings.Count(src, innerSig) != strings.Count(src, "atomic.AddUint32(&fs.Invalids, 1)") ||
			strings.Count(src, "innerFunc(ctx, ") != strings.Count(src, "innerFunc(ctx, out)")+strings.Count(src, "innerFunc(ctx, dfs)") {
			fail("%s: gqlgen's concurrent fields changed shape: update graph/execpatch.go", f)
		}
		src = strings.ReplaceAll(src, innerSig, "innerFunc := func(ctx context.Context, invalids *uint32) (res graphql.Marshaler) {")
		src = strings.ReplaceAll(src, "atomic.AddUint32(&fs.Invalids, 1)", "atomic.AddUint32(invalids, 1)")
		src = strings.ReplaceAll(src, "innerFunc(ctx, out)", "innerFunc(ctx, &out.Invalids)")
		src = strings.ReplaceAll(src, "innerFunc(ctx, dfs)", "innerFunc(ctx, &dfs.Invalids)")
		// In an operation without field middleware, an object's field that gqlgen would resolve
		// on a goroutine of its own (a resolver, a method) is resolved at once, in field order.
		nows += len(concurrentField.FindAllString(src, -1))
		src = concurrentField.ReplaceAllString(src, "${1}\t\t\tif ec.direct && !field.IsDeferred() { // patched by graph/execpatch.go: no closures or goroutine per field\n"+
			"\t\t\t\tif out.Values[i] = ec.resolveNow(ctx, func(ctx context.Context) graphql.Marshaler { return ${3} }); out.Values[i] == ${4} {\n"+
			"\t\t\t\t\tatomic.AddUint32(&out.Invalids, 1)\n\t\t\t\t}\n\t\t\t\tbreak\n\t\t\t}\n${2}")
		// A field context's Child is a closure per field; it is the same for every field of a type.
		src = childField.ReplaceAllStringFunc(src, func(m string) string {
			name := childField.FindStringSubmatch(m)[1]
			i, ok := childIndex[name]
			if !ok {
				i = len(childIndex)
				childIndex[name] = i
			}
			return fmt.Sprintf("Child: ec.child(%d, func(ec *executionContext) childFunc { return ec.%s }), // patched by graph/execpatch.go: one closure per type\n", i, name)
		})
		// A field context is filled in where the caller says, so that resolveDirect allocates it
		// with its context; fieldContext_ allocates it as before.
		fills += len(objectCtxt.FindAllString(src, -1))
		src = objectCtxt.ReplaceAllString(src, "func (ec *executionContext) ${1}(ctx context.Context, field graphql.CollectedField) (fc *graphql.FieldContext, err error) {\n"+
			"\treturn ec.fillContext_${2}(ctx, field, new(graphql.FieldContext))\n}\n\n"+
			"// fillContext_${2} is ${1} into fc. Patched by graph/execpatch.go.\n"+
			"func (ec *executionContext) fillContext_${2}(${3} context.Context, field graphql.CollectedField, fc *graphql.FieldContext) (_ *graphql.FieldContext, err error) {\n"+
			"\t*fc = graphql.FieldContext{\n")
		// A scalar's is filled in place too, with its leaf type's Child: NewScalarFieldContext
		// allocates the context and a closure for the error.
		if n := len(scalarCtxt.FindAllString(src, -1)); n != len(scalarFill.FindAllString(src, -1)) {
			fail("%s: gqlgen's scalar field contexts changed shape: update graph/execpatch.go", f)
		} else {
			fills += n
		}
		src = scalarFill.ReplaceAllString(src, "// fillContext_${2} is ${1} into fc. Patched by graph/execpatch.go.\n"+
			"func (ec *executionContext) fillContext_${2}(_ context.Context, field graphql.CollectedField, fc *graphql.FieldContext) (*graphql.FieldContext, error) {\n"+
			"\t*fc = graphql.FieldContext{Object: ${3}, Field: field, IsMethod: ${4}, IsResolver: ${5}, Child: leafChild${6}}\n\treturn fc, nil\n}\n\n${0}")
		values += len(scalarValue.FindAllString(src, -1))
		src = scalarValue.ReplaceAllStringFunc(src, func(m string) string {
			g := scalarValue.FindStringSubmatch(m)
			i := 0
			if g[2] == "*" {
				i = 1
			}
			return "\tres := " + valueMarshalers[g[1]][i] + " // patched by graph/execpatch.go: no closure"
		})
		// The input unmarshalers only call one another (checked): one map serves every operation.
		for _, m := range unmarshalFunc.FindAllString(src, -1) {
			if strings.Contains(strings.ReplaceAll(m, "ec.unmarshal", ""), "ec.") {
				fail("%s: an input unmarshaler uses the execution context: update graph/execpatch.go", f)
			}
		}
		if m := unmarshalMap.FindStringSubmatch(src); m != nil {
			unmarshalers = m[1]
			src = strings.Replace(src, m[0], "\tinputUnmarshalMap := inputUnmarshalers() // patched by graph/execpatch.go: built once\n", 1)
		}
		// A resolver root's resolvers are asked for once per operation, not once per field.
		for _, m := range resolverCall.FindAllStringSubmatch(src, -1) {
			roots[m[1]] = true
		}
		src = resolverCall.ReplaceAllString(src, "ec.resolver${1}().")
		// A field's arguments are coerced once per operation (they depend on the field and the
		// variables only), not once per object the field is selected on.
		// Its context for errors and its panic recovery are made only when it is coerced.
		n := len(fieldArgs.FindAllString(src, -1))
		if n != len(fieldArgsBody.FindAllString(src, -1)) {
			fail("%s: gqlgen's argument coercion changed shape: update graph/execpatch.go", f)
		}
		argFields += n
		src = fieldArgsBody.ReplaceAllString(src, "\tif fc.Args, err = ec.fieldArgs(ctx, fc, ec.${1}); err != nil { // patched by graph/execpatch.go\n\t\treturn fc, err\n\t}\n")
		lists += strings.Count(src, "graphql.MarshalSliceConcurrently(")
		src = strings.ReplaceAll(src, "graphql.MarshalSliceConcurrently(", "marshalList(")
		// The list is given by pointer (see marshalList).
		if strings.Count(src, "ret := marshalList(") != len(listReturn.FindAllString(src, -1)) {
			fail("%s: gqlgen's list marshaling changed shape: update graph/execpatch.go", f)
		}
		// In an operation without field middleware a list's elements are marshaled one after the
		// other (marshalSequentially); other operations keep gqlgen's goroutine per element. The
		// element's closure is written twice, so that the first does not escape with the second.
		src = listReturn.ReplaceAllStringFunc(src, func(m string) string {
			g := listReturn.FindStringSubmatch(m)
			return "\tvar ret *graphql.Array\n\tif ec.direct { // patched by graph/execpatch.go: see marshalSequentially\n" +
				"\t\tret = marshalSequentially(ctx, &ec.fieldCtxs, len(v), " + g[2] + ", " + g[3] + ")\n\t} else {\n" +
				"\t\tlist := graphql.MarshalSliceConcurrently(ctx, len(v), " + g[1] + ", " + g[2] + ", " + g[3] + ")\n\t\tret = &list\n\t}\n" +
				strings.Replace(g[4], "range ret {", "range *ret {", 1)
		})
		collects += strings.Count(src, collect)
		src = strings.ReplaceAll(src, collect, "ec.collectFields(sel, ")
		if strings.Contains(src, execState) {
			execs++
			execFile = f
			src = strings.Replace(src, execState, "type executionContext struct {\n\t*graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]\n\tdirect bool // patched by graph/execpatch.go: see DirectFields\n\tfields collected // patched by graph/execpatch.go: see collectFields\n\tchildren children // patched by graph/execpatch.go: see child\n\tresolvers resolvers // patched by graph/execpatch.go: see patch.go\n\targs coercedArgs // patched by graph/execpatch.go: see fieldArgs\n\tfieldCtxs fieldCtxs // patched by graph/execpatch.go: see resolveDirect\n}\n", 1)
			if !strings.Contains(src, execNew) {
				fail("%s: gqlgen's newExecutionContext changed shape: update graph/execpatch.go", f)
			}
			src = strings.Replace(src, execNew, "\treturn &executionContext{\n\t\tdirect: opCtx.Stats.GetExtension(DirectFields) != nil,\n\t\tfieldCtxs: fieldCtxs{single: subscription(opCtx)},\n\t\tExecutionContextState: ", 1)
			if !strings.Contains(src, queryData) || !strings.Contains(src, mutationData) {
				fail("%s: gqlgen's marshaling of an operation's data changed shape: update graph/execpatch.go", f)
			}
			src = strings.Replace(src, queryData, "\t\t\tresponse.Data = marshalData(data) // patched by graph/execpatch.go\n", 1)
			src = strings.Replace(src, mutationData, "\t\t\treturn &graphql.Response{Data: marshalData(data)} // patched by graph/execpatch.go\n", 1)
		}
		if !strings.Contains(strings.Replace(src, "\t\"errors\"\n", "", 1), "errors.") {
			src = strings.Replace(src, "\t\"errors\"\n", "", 1)
		}
		write(f, src)
	}
	if execs != 1 || direct == 0 || resolved == 0 || sets == 0 || lists == 0 || collects == 0 || nows == 0 || len(childIndex) == 0 || fills == 0 || unmarshalers == "" || len(roots) == 0 || argFields == 0 || values == 0 {
		fail("gqlgen's executor changed shape (%d contexts, %d leaf reads, %d resolved fields, %d field sets, %d lists, %d field collections, "+
			"%d concurrent fields, %d child types, %d field contexts, %d argument coercions, %d resolver roots, input unmarshalers found: %v, %d scalar values): update graph/execpatch.go",
			execs, direct, resolved, sets, lists, collects, nows, len(childIndex), fills, argFields, len(roots), unmarshalers != "", values)
	}
	// root_.generated.go gets the runtime that uses the execution context's added fields.
	var ext strings.Builder
	ext.WriteString("\n// Added by graph/execpatch.go.\n" + execRuntime)
	ext.WriteString("\n// inputUnmarshalers is the map of input unmarshalers gqlgen puts in an operation's context: they\n" +
		"// use no state of the execution context (graph/execpatch.go checks), so that one map serves all.\n" +
		"var inputUnmarshalers = onceValue(func() unmarshalers {\n\tec := new(executionContext)\n" +
		"\treturn graphql.BuildUnmarshalerMap(\n" + unmarshalers + "\t)\n})\n")
	rootNames := make([]string, 0, len(roots))
	for name := range roots {
		rootNames = append(rootNames, name)
	}
	slices.Sort(rootNames)
	ext.WriteString("\n// resolvers are the resolver roots' resolvers an operation asked for.\ntype resolvers struct {\n\tmu mutex\n")
	for _, name := range rootNames {
		fmt.Fprintf(&ext, "\t%s %sResolver\n", name, name)
	}
	ext.WriteString("}\n")
	for _, name := range rootNames {
		fmt.Fprintf(&ext, "\nfunc (ec *executionContext) resolver%[1]s() %[1]sResolver {\n\tr := &ec.resolvers\n\tr.mu.Lock()\n\tdefer r.mu.Unlock()\n"+
			"\tif r.%[1]s == nil {\n\t\tr.%[1]s = ec.Resolvers.%[1]s()\n\t}\n\treturn r.%[1]s\n}\n", name)
	}
	b, err := os.ReadFile(execFile)
	if err != nil {
		fail("%v", err)
	}
	write(execFile, string(b)+ext.String())

	names := make([]string, 0, len(leaves))
	for name := range leaves {
		names = append(names, name)
	}
	slices.Sort(names)
	var out strings.Builder
	out.WriteString(runtime)
	fmt.Fprintf(&out, "\n// numChildren is how many types have child fields.\nconst numChildren = %d\n", len(childIndex))
	out.WriteString("\n// The error a leaf field's context gives for a child field, one per leaf type.\nvar (\n")
	for _, name := range names {
		fmt.Fprintf(&out, "\terrLeaf%s = errors.New(%q)\n", name, "field of type "+name+" does not have child fields")
	}
	out.WriteString(")\n")
	out.WriteString("\n// A leaf field context's Child, one per leaf type: it gives the type's error.\n")
	for _, name := range names {
		fmt.Fprintf(&out, "func leafChild%[1]s(context.Context, graphql.CollectedField) (*graphql.FieldContext, error) {\n\treturn nil, errLeaf%[1]s\n}\n\n", name)
	}
	write(filepath.Join(dir, "patch.go"), out.String())
	// Its name before it held more than the leaf errors.
	if err := os.Remove(filepath.Join(dir, "leaferrors.go")); err != nil && !os.IsNotExist(err) {
		fail("%v", err)
	}
}

// runtime is what the patched executor calls instead of gqlgen's graphql package.
const runtime = `// Code generated by graph/execpatch.go, DO NOT EDIT.

package generated

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/agora/agora/internal/documents"
)

// collectDocumentFields is graphql.CollectFields, remembered across the operations of a cached
// document where they do not depend on its variables.
var collectDocumentFields = documents.CollectFields

// DirectFields is the operation statistics extension that says an operation has no field
// middleware: its fields are then resolved without ResolveField's middleware call
// (resolveDirect), leaf reads without a field context, and its lists one element after another.
const DirectFields = "DirectFields"

// fieldSet is graphql.FieldSet for an object's own fields (deferred fields stay in a
// graphql.FieldSet). It is allocated with its values, and writes the object without
// graphql.FieldSet's map of the names written and its iterator's closures and copies per field.
type fieldSet struct {
	fields   []graphql.CollectedField
	Values   []graphql.Marshaler
	Invalids uint32
	delayed  []delayedField
	small    *fieldSet8 // the storage this set came from, reused once the set is written
}

type delayedField struct {
	i int
	f func(context.Context) graphql.Marshaler
}

// fieldSet8 holds the values of an object of up to 8 selected fields, in one allocation. Once
// written, it is reused: the executor writes a response once, and a set is one value's.
type fieldSet8 struct {
	fieldSet
	values [8]graphql.Marshaler
}

var smallSets = sync.Pool{New: func() any { return new(fieldSet8) }}

// marshalData is an operation's data, marshaled into a buffer kept from one operation to the next
// and copied out at its size: gqlgen's new buffer per operation grew by doubling, about twice the
// data's size in allocations.
func marshalData(data graphql.Marshaler) []byte {
	buf := dataBuffers.Get().(*bytes.Buffer)
	data.MarshalGQL(buf)
	b := bytes.Clone(buf.Bytes())
	if buf.Cap() <= 1<<20 { // one very large response's buffer is left to the garbage collector
		buf.Reset()
		dataBuffers.Put(buf)
	}
	return b
}

var dataBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newFieldSet(fields []graphql.CollectedField) *fieldSet {
	if len(fields) <= 8 {
		s := smallSets.Get().(*fieldSet8)
		s.fields, s.Values, s.small = fields, s.values[:len(fields)], s
		return &s.fieldSet
	}
	return &fieldSet{fields: fields, Values: make([]graphql.Marshaler, len(fields))}
}

// Concurrently is graphql.FieldSet's: f computes field i when Dispatch runs.
func (s *fieldSet) Concurrently(i int, f func(context.Context) graphql.Marshaler) {
	if s.delayed == nil {
		s.delayed = make([]delayedField, 0, len(s.fields)-i)
	}
	s.delayed = append(s.delayed, delayedField{i, f})
}

// Dispatch is graphql.FieldSet's: the first delayed field on this goroutine, each other one on
// a goroutine of its own, so that their loaders wait together.
func (s *fieldSet) Dispatch(ctx context.Context) {
	switch len(s.delayed) {
	case 0:
	case 1:
		s.Values[s.delayed[0].i] = s.delayed[0].f(ctx)
	default:
		var wg sync.WaitGroup
		for _, d := range s.delayed[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Values[d.i] = d.f(ctx)
			}()
		}
		s.Values[s.delayed[0].i] = s.delayed[0].f(ctx)
		wg.Wait()
	}
}

var (
	openBrace  = []byte("{")
	closeBrace = []byte("}")
	comma      = []byte(",")
	quote      = []byte("\"")
	quoteColon = []byte("\":")
)

// MarshalGQL writes the object as graphql.FieldSet does: each response name once, the first
// one's value. A name needs no escaping (GraphQL names are letters, digits and underscores).
func (s *fieldSet) MarshalGQL(w io.Writer) {
	w.Write(openBrace)
	first := true
	for i := range s.fields {
		alias := s.fields[i].Alias
		if written(s.fields[:i], alias) {
			continue
		}
		if !first {
			w.Write(comma)
		}
		first = false
		w.Write(quote)
		io.WriteString(w, alias)
		w.Write(quoteColon)
		s.Values[i].MarshalGQL(w)
	}
	w.Write(closeBrace)
	if small := s.small; small != nil {
		*small = fieldSet8{}
		smallSets.Put(small)
	}
}

func written(fields []graphql.CollectedField, alias string) bool {
	for i := range fields {
		if fields[i].Alias == alias {
			return true
		}
	}
	return false
}

// A leaf's value marshaled from its object's field, by pointer, as gqlgen's MarshalString,
// MarshalInt and MarshalIntID write it: an interface holds a pointer without an allocation, where
// those functions make a closure per value. Loaded objects do not change before the response is
// written.
type (
	stringField string
	intField    int
	intIDField  int
)

func (s *stringField) MarshalGQL(w io.Writer) { writeQuotedString(w, string(*s)) }
func (i *intField) MarshalGQL(w io.Writer)    { writeInt(w, int64(*i), false) }
func (i *intIDField) MarshalGQL(w io.Writer)  { writeInt(w, int64(*i), true) }

// intValue is an Int marshaled as gqlgen's MarshalInt writes it: an interface holds a value
// below 256 without an allocation, and a larger one in 8 bytes, where MarshalInt makes a closure.
type intValue int

func (i intValue) MarshalGQL(w io.Writer) { writeInt(w, int64(i), false) }

// marshalTime is gqlgen's MarshalTime: null for a zero time, else the time in one allocation,
// where MarshalTime's closure allocated its formatted and quoted text besides.
func marshalTime(t time.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return timeValue(t)
}

// marshalTimeAt is marshalTime of *t, by pointer.
func marshalTimeAt(t *time.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return (*timeField)(t)
}

type timeValue time.Time

func (t timeValue) MarshalGQL(w io.Writer) { (*timeField)(&t).MarshalGQL(w) }

// timeField is a time field marshaled as gqlgen's MarshalTime writes a time that is not zero:
// RFC 3339 with nanoseconds, quoted (it has nothing to escape).
type timeField time.Time

func (t *timeField) MarshalGQL(w io.Writer) {
	b, ok := w.(*bytes.Buffer)
	if !ok {
		io.WriteString(w, strconv.Quote(time.Time(*t).Format(time.RFC3339Nano)))
		return
	}
	buf := append(b.AvailableBuffer(), '"')
	buf = time.Time(*t).AppendFormat(buf, time.RFC3339Nano)
	b.Write(append(buf, '"'))
}

// writeQuotedString writes s as a JSON string, escaped as gqlgen does (control characters,
// quotes and backslashes; other bytes as they are).
func writeQuotedString(w io.Writer, s string) {
	const hex = "0123456789ABCDEF"
	io.WriteString(w, "\"")
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		io.WriteString(w, s[start:i])
		switch c {
		case '\t':
			io.WriteString(w, "\\t")
		case '\r':
			io.WriteString(w, "\\r")
		case '\n':
			io.WriteString(w, "\\n")
		case '\\':
			io.WriteString(w, "\\\\")
		case '"':
			io.WriteString(w, "\\\"")
		default:
			io.WriteString(w, "\\u00")
			io.WriteString(w, hex[c>>4:c>>4+1])
			io.WriteString(w, hex[c&0xf:c&0xf+1])
		}
		start = i + 1
	}
	io.WriteString(w, s[start:])
	io.WriteString(w, "\"")
}

// writeInt writes i in decimal, quoted for an ID; into a bytes.Buffer (the executor's) without
// an allocation.
func writeInt(w io.Writer, i int64, quoted bool) {
	b, ok := w.(*bytes.Buffer)
	if !ok {
		s := strconv.FormatInt(i, 10)
		if quoted {
			s = "\"" + s + "\""
		}
		io.WriteString(w, s)
		return
	}
	buf := b.AvailableBuffer()
	if quoted {
		buf = append(buf, '"')
	}
	buf = strconv.AppendInt(buf, i, 10)
	if quoted {
		buf = append(buf, '"')
	}
	b.Write(buf)
}

// Two Boolean marshalers serve every field, writing what gqlgen's MarshalBoolean writes.
var (
	marshaledTrue  = graphql.WriterFunc(func(w io.Writer) { io.WriteString(w, "true") })
	marshaledFalse = graphql.WriterFunc(func(w io.Writer) { io.WriteString(w, "false") })
)

func marshalBool(b bool) graphql.Marshaler {
	if b {
		return marshaledTrue
	}
	return marshaledFalse
}

// marshalSequentially is graphql.MarshalSliceConcurrently with the elements marshaled one after
// the other, for an operation without field middleware: a goroutine, a closure and a context
// each were most of a list's cost, and what an element waits for goes through the request's
// loaders, which field collection and loader.Prefetch fill before the elements run, so that each
// kind is still one batch. The elements' contexts, field contexts and indexes come from the
// operation's fieldCtxs. The list is given by pointer, which an interface holds without an
// allocation; up to 8 values are allocated with it.
func marshalSequentially(ctx context.Context, ctxs *fieldCtxs, length int, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) *graphql.Array {
	var list *graphql.Array
	if length <= 8 {
		l := &list8{}
		l.Array = l.values[:length]
		list = &l.Array
	} else {
		list = &graphql.Array{}
		*list = make(graphql.Array, length)
	}
	if !marshalElements(ctx, ctxs, *list, omitPanicHandler, marshalElement) {
		*list = nil
	}
	return list
}

// list8 is a list of up to 8 values, with its values.
type list8 struct {
	graphql.Array
	values [8]graphql.Marshaler
}

// marshalElements marshals a list's elements into ret; false when one panicked.
func marshalElements(ctx context.Context, ctxs *fieldCtxs, ret graphql.Array, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) bool {
	length := len(ret)
	if length == 0 {
		return true
	}
	parent := graphql.GetFieldContext(ctx)
	failed := false
	for i := range length {
		e := ctxs.next(ctx)
		e.index = i
		e.fc.Parent, e.fc.Index = parent, &e.index
		childCtx := context.Context(e)
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					failed = true
				}
			}()
			ret[i] = marshalElement(childCtx, i)
		}()
	}
	return !failed
}

// fieldCtx is a context that holds a field context, allocated together, as
// graphql.WithFieldContext would give (which allocates the context value besides); a list
// element's holds its index too.
type fieldCtx struct {
	context.Context
	fc    graphql.FieldContext
	index int
}

// fieldCtxs hands out an operation's field contexts, for resolveDirect and for lists' elements,
// from arrays allocated together: each field's context was an allocation, and each list's
// elements' contexts another. An array lives as long as any of its contexts, all of one operation.
// Arrays grow from 8 to 32 contexts: larger ones left more unused at the end of a page than the
// allocations they saved were worth. A subscription's contexts are allocated one by one (single):
// its execution context lives as long as the subscription, and an array would keep its earlier
// events' contexts and results.
type fieldCtxs struct {
	single bool
	mu     sync.Mutex
	free   []fieldCtx
	n      int
}

func (f *fieldCtxs) next(ctx context.Context) *fieldCtx {
	if f.single {
		return &fieldCtx{Context: ctx}
	}
	f.mu.Lock()
	if len(f.free) == 0 {
		f.n = min(max(2*f.n, 8), 32)
		f.free = make([]fieldCtx, f.n)
	}
	c := &f.free[0]
	f.free = f.free[1:]
	f.mu.Unlock()
	c.Context = ctx
	return c
}

func (c *fieldCtx) Value(key any) any {
	if key == fieldContextKey {
		return &c.fc
	}
	return c.Context.Value(key)
}

// fieldContextKey is the key gqlgen keeps a field context under in a context, as
// graphql.GetFieldContext asks for it.
var fieldContextKey = func() any {
	var p keyProbe
	graphql.GetFieldContext(&p)
	return p.key
}()

func init() {
	c := &fieldCtx{Context: context.Background()}
	if fieldContextKey == nil || graphql.GetFieldContext(c) != &c.fc {
		panic("graph/generated: gqlgen's GetFieldContext no longer reads one context value: update graph/execpatch.go")
	}
}

// subscription says whether an operation is a subscription.
func subscription(opCtx *graphql.OperationContext) bool {
	return opCtx.Operation != nil && opCtx.Operation.Operation == ast.Subscription
}

// keyProbe is a context that remembers the key of the value asked for.
type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

// resolveNow is what an object's concurrent field runs, without the goroutine: a panic is
// reported and leaves no value, as in gqlgen's closure.
func (ec *executionContext) resolveNow(ctx context.Context, resolve func(context.Context) graphql.Marshaler) (res graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			ec.Error(ctx, ec.Recover(ctx, r))
		}
	}()
	return resolve(ctx)
}

type childFunc = func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error)

// children are an operation's closures that give a field context's child fields, one per type.
type children struct {
	mu sync.Mutex
	fn [numChildren]childFunc
}

// coercedArgs remembers the arguments of an operation's fields, as coerced.
type coercedArgs struct {
	mu   sync.Mutex
	args map[*ast.Field]map[string]any
}

// cloneArgs copies a field's arguments.
func cloneArgs(args map[string]any) map[string]any { return maps.Clone(args) }

// For the code execpatch adds to root_.generated.go, whose imports it leaves alone.
type (
	mutex        = sync.Mutex
	unmarshalers = map[reflect.Type]reflect.Value
)

func onceValue[T any](f func() T) func() T { return sync.OnceValue(f) }

// inlineDeferred marks fields that a @defer fragment selects as not deferrable: Agora resolves
// them with the rest of the response, as the incremental delivery proposal lets a server do.
// Deferred, they came as null in the first payload, and no later payload carried them: single
// responses (HTTP's JSON, a mutation's, a subscription event's) have none, and over the streams
// none came either (TestDeferResolvedInline).
func inlineDeferred(fields []graphql.CollectedField) []graphql.CollectedField {
	for i := range fields {
		if fields[i].IsDeferred() {
			fields = slices.Clone(fields) // the document's collection may be shared
			for j := i; j < len(fields); j++ {
				fields[j].IsNonDeferrable = true
			}
			return fields
		}
	}
	return fields
}

// collected remembers the fields an operation's selection sets collect for each object type.
type collected struct {
	mu     sync.Mutex
	fields map[collectedKey][]graphql.CollectedField
}

type collectedKey struct {
	sel        *ast.Selection
	n          int
	implements *string
}

`

// execRuntime is the part of the runtime that reads the fields the patch adds to the execution
// context: it is added to root_.generated.go, which gqlgen writes anew, so that patch.go compiles
// with gqlgen's output as it is (gqlgen loads the package when it generates it).
const execRuntime = `
// resolveDirect is graphql.ResolveField for an operation without field middleware (DirectFields)
// and a field without directives: the same field context, errors, nulls and panic recovery,
// without the closures and boxed results ResolveField needs to call middleware. Its field
// context keeps the result only when result says so: without middleware, a field context's
// Result is read only as a child field's parent (parentObject in graph/server), and a leaf has no
// child fields while a list's elements have field contexts of their own.
func resolveDirect[T any](ctx context.Context, ec *executionContext, field graphql.CollectedField,
	fillContext func(context.Context, graphql.CollectedField, *graphql.FieldContext) (*graphql.FieldContext, error),
	resolve func(context.Context) (T, error),
	marshal func(context.Context, ast.SelectionSet, T) graphql.Marshaler,
	result, recoverFromPanic, nonNull bool,
) (ret graphql.Marshaler) {
	c := ec.fieldCtxs.next(ctx)
	if _, err := fillContext(ctx, field, &c.fc); err != nil {
		return graphql.Null
	}
	fc := &c.fc
	fc.Parent = graphql.GetFieldContext(ctx)
	ctx = c
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				ec.Error(ctx, ec.Recover(ctx, r))
				ret = graphql.Null
			}
		}()
	}
	res, err := resolve(ctx)
	if err != nil {
		ec.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		if fc.NonNull && !nonNull {
			return graphql.RequiredNull
		}
		return graphql.Null
	}
	if any(res) == nil { // only a nil interface, as ResolveField's result
		if (nonNull || fc.NonNull) && !graphql.HasFieldError(ctx, fc) {
			ec.Errorf(ctx, "must not be null")
		}
		if fc.NonNull && !nonNull {
			return graphql.RequiredNull
		}
		return graphql.Null
	}
	if result {
		fc.Result = res
	}
	return marshal(ctx, field.Selections, res)
}

// child is the i-th type's closure, bound to ec on first use: a field context's Child was a
// closure per field.
func (ec *executionContext) child(i int, bind func(*executionContext) childFunc) childFunc {
	c := &ec.children
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fn[i] == nil {
		c.fn[i] = bind(ec)
	}
	return c.fn[i]
}

// fieldArgs is fc's field's arguments, coerced once per field of the operation: a field selected
// on each object of a list has the same arguments for each. The coercion is gqlgen's, in a
// context with fc, its error or panic reported (and not remembered). The argument values are
// shared; the map is too when the operation has no field middleware (nothing but resolvers reads
// it), and is copied otherwise.
func (ec *executionContext) fieldArgs(ctx context.Context, fc *graphql.FieldContext, coerce func(context.Context, map[string]any) (map[string]any, error)) (args map[string]any, err error) {
	field := fc.Field
	c := &ec.args
	c.mu.Lock()
	args, ok := c.args[field.Field]
	c.mu.Unlock()
	if ok {
		if !ec.direct {
			args = cloneArgs(args)
		}
		return args, nil
	}
	ctx = graphql.WithFieldContext(ctx, fc)
	defer func() {
		if r := recover(); r != nil {
			err = ec.Recover(ctx, r)
			ec.Error(ctx, err)
		}
	}()
	if args, err = coerce(ctx, field.ArgumentMap(ec.Variables)); err != nil {
		ec.Error(ctx, err)
		return args, err
	}
	c.mu.Lock()
	if c.args == nil {
		c.args = make(map[*ast.Field]map[string]any)
	}
	c.args[field.Field] = args
	c.mu.Unlock()
	if !ec.direct {
		args = cloneArgs(args)
	}
	return args, nil
}

// collectFields is graphql.CollectFields for this operation, without its cache key's hash
// (an allocation per object): the implementors are a package variable of their type, and a
// selection set is the operation's, so their addresses identify them. What it has not seen in
// this operation it asks of collectDocumentFields.
func (ec *executionContext) collectFields(sel ast.SelectionSet, implementors []string) []graphql.CollectedField {
	key := collectedKey{n: len(sel)}
	if len(sel) > 0 {
		key.sel = &sel[0]
	}
	if len(implementors) > 0 {
		key.implements = &implementors[0]
	}
	c := &ec.fields
	c.mu.Lock()
	fields, ok := c.fields[key]
	c.mu.Unlock()
	if ok {
		return fields
	}
	fields = inlineDeferred(collectDocumentFields(ec.OperationContext, sel, implementors))
	c.mu.Lock()
	if c.fields == nil {
		c.fields = make(map[collectedKey][]graphql.CollectedField)
	}
	c.fields[key] = fields
	c.mu.Unlock()
	return fields
}
`

func write(path, src string) {
	b, err := format.Source([]byte(src))
	if err != nil {
		fail("%s: %v", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "execpatch: "+format+"\n", args...)
	os.Exit(1)
}
