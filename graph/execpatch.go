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
//     allocations per leaf) guard nothing there, as reading a field cannot fail or block.
//
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
	// A field whose resolver reads a Go field of its object and has no directive middleware.
	fieldRead = regexp.MustCompile(`(?m)^(func \(ec \*executionContext\) _\w+\(ctx context\.Context, field graphql\.CollectedField, obj \S+\) \(ret graphql\.Marshaler\) \{
)(\treturn graphql\.ResolveField\(
\t\tctx,
\t\tec\.OperationContext,
\t\tfield,
\t\tfunc\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{
\t\t\treturn ec\.(fieldContext_\w+)\(ctx, field\)
\t\t\},
\t\tfunc\(ctx context\.Context\) \(any, error\) \{
\t\t\treturn obj\.(\w+), nil
\t\t\},
\t\tnil,
\t\tfunc\(ctx context\.Context, selections ast\.SelectionSet, v (\S+)\) graphql\.Marshaler \{
\t\t\treturn ec\.(marshal\w+)\(ctx, selections, v\)
\t\t\},
)`)
	execState  = "type executionContext struct {\n\t*graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]\n}\n"
	execNew    = "\treturn &executionContext{\n\t\tExecutionContextState: "
	scalarCtxt = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (fieldContext_\w+)\(_ context\.Context, field graphql\.CollectedField\) \(fc \*graphql\.FieldContext, err error\) \{
\treturn graphql\.NewScalarFieldContext\(`)
)

func main() {
	files, err := filepath.Glob(filepath.Join(dir, "*.generated.go"))
	if err != nil || len(files) == 0 {
		fail("no gqlgen output in %s", dir)
	}
	leaves := map[string]bool{}
	// The leaf fields: their field context is a scalar one (no child fields to collect).
	scalar := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fail("%v", err)
		}
		for _, m := range scalarCtxt.FindAllStringSubmatch(string(b), -1) {
			scalar[m[1]] = true
		}
	}
	direct, execs := 0, 0
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
		src = fieldRead.ReplaceAllStringFunc(src, func(m string) string {
			g := fieldRead.FindStringSubmatch(m)
			// Not a leaf, or a non-null pointer (whose nil ResolveField reports on the field).
			if !scalar[g[3]] || strings.HasPrefix(g[5], "*") && !strings.HasPrefix(g[6], "marshalO") {
				return m
			}
			direct++
			return g[1] + "\tif ec.direct { // patched by graph/execpatch.go: a field read needs no field context\n" +
				"\t\treturn ec." + g[6] + "(ctx, field.Selections, obj." + g[4] + ")\n\t}\n" + g[2]
		})
		if strings.Contains(src, execState) {
			execs++
			src = strings.Replace(src, execState, "type executionContext struct {\n\t*graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]\n\tdirect bool // patched by graph/execpatch.go: see DirectFields\n}\n", 1)
			if !strings.Contains(src, execNew) {
				fail("%s: gqlgen's newExecutionContext changed shape: update graph/execpatch.go", f)
			}
			src = strings.Replace(src, execNew, "\treturn &executionContext{\n\t\tdirect: opCtx.Stats.GetExtension(DirectFields) != nil,\n\t\tExecutionContextState: ", 1)
		}
		if !strings.Contains(strings.Replace(src, "\t\"errors\"\n", "", 1), "errors.") {
			src = strings.Replace(src, "\t\"errors\"\n", "", 1)
		}
		write(f, src)
	}
	if execs != 1 || direct == 0 {
		fail("gqlgen's execution context or field resolution changed shape (%d contexts, %d field reads): update graph/execpatch.go", execs, direct)
	}
	names := make([]string, 0, len(leaves))
	for name := range leaves {
		names = append(names, name)
	}
	slices.Sort(names)
	var out strings.Builder
	out.WriteString("// Code generated by graph/execpatch.go, DO NOT EDIT.\n\npackage generated\n\nimport \"errors\"\n\n")
	out.WriteString("// The error a leaf field's context gives for a child field, one per leaf type.\nvar (\n")
	for _, name := range names {
		fmt.Fprintf(&out, "\terrLeaf%s = errors.New(%q)\n", name, "field of type "+name+" does not have child fields")
	}
	out.WriteString(")\n\n")
	out.WriteString(`// DirectFields is the operation statistics extension that says an operation has no field
// middleware: its leaf fields that read a Go field are then marshaled without a field context.
const DirectFields = "DirectFields"
`)
	write(filepath.Join(dir, "leaferrors.go"), out.String())
}

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
