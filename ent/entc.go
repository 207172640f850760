//go:build ignore

// entc.go generates the ent client and, through entgql, schema/ent.graphql.
// Run from the repository root: go run -mod=mod ./ent/entc.go
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./schema/ent.graphql"),
		// No generated where-inputs: their predicates reach through edges around the privacy rules
		// and scan long text. The filters clients get are designed by hand (schema/*.graphqls,
		// internal/filter).
		entgql.WithWhereInputs(false),
		entgql.WithNodeDescriptor(false),
		entgql.WithSchemaHook(describe),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Target:  "./ent",
		Package: "github.com/agora/agora/ent",
		Hooks:   []gen.Hook{throughEdges, computedColumns},
		Features: []gen.Feature{
			gen.FeatureVersionedMigration,
			gen.FeatureIntercept,
			gen.FeaturePrivacy,
			gen.FeatureGlobalID,
			gen.FeatureUpsert,
			gen.FeatureNamedEdges,
			gen.FeatureExecQuery,
			gen.FeatureModifier,
		},
	}, entc.Extensions(ex), templateDir("./ent/template"), entc.BuildTags("entcodegen"))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
	if err := markParentKeys("./ent"); err != nil {
		log.Fatalf("marking eager loads: %v", err)
	}
	if err := leanThroughLoads("./ent"); err != nil {
		log.Fatalf("rewriting many-to-many eager loads: %v", err)
	}
	if err := useRelay("./ent"); err != nil {
		log.Fatalf("pointing the generated code at ent/relay: %v", err)
	}
	if err := edgesTogether("./ent/gql_pagination.go"); err != nil {
		log.Fatalf("allocating connections' edges together: %v", err)
	}
	if err := scanSlices("./ent"); err != nil {
		log.Fatalf("scanning single columns without reflection: %v", err)
	}
	if err := documentFields("./ent"); err != nil {
		log.Fatalf("collecting fields once per document: %v", err)
	}
	if err := dropBadArgs("./ent/gql_collection.go"); err != nil {
		log.Fatalf("dropping arguments field collection cannot read: %v", err)
	}
	if err := dropSchemaClient("./ent/client.go"); err != nil {
		log.Fatalf("leaving the migration engine out of the client: %v", err)
	}
}

// schemaClient is the generated client's Schema, ent's migration engine (ent/migrate: Atlas with
// its HCL, MySQL, SQLite and PostgreSQL inspectors), as ent's client template writes it.
var schemaClient = []rewrite{
	{regexp.MustCompile(`\n\t"github.com/agora/agora/ent/migrate"\n`), "\n"},
	{regexp.MustCompile(`\n\t// Schema is the client for creating, migrating and dropping schema.\n\tSchema \*migrate.Schema\n`), "\n"},
	{regexp.MustCompile(`\n\tc.Schema = migrate.NewSchema\(c.driver\)\n`), "\n"},
}

// dropSchemaClient leaves Schema out of the client, so that the server does not link the
// migration engine it never runs (its migrations are SQL files, internal/database): 5 MB of the
// binary and its package initializers. ent/migrate stays for TestMigrationsMatchSchema; ent's
// enttest, which creates tables through Schema, goes (tests migrate with the SQL files, testenv).
func dropSchemaClient(file string) error {
	if err := os.RemoveAll(filepath.Join(filepath.Dir(file), "enttest")); err != nil {
		return err
	}
	counts, err := rewriteFiles(file, schemaClient...)
	if err != nil {
		return err
	}
	for _, n := range counts {
		if n != 1 {
			return fmt.Errorf("%s: the client's Schema is not as ent's template writes it (%v matches): its template changed", file, counts)
		}
	}
	return nil
}

// readDirection is a pager's applyCursors as entgql generates it: the cursors compared in the
// direction the page is read (reversed for last), which relay.CursorsPredicate replaces with the
// order's direction.
var readDirection = regexp.MustCompile(`(?m)^\tdirection := p\.order\.Direction\n\tif p\.reverse \{\n\t\tdirection = direction\.Reverse\(\)\n\t\}\n(\tfor _, predicate := range relay\.CursorsPredicate\(after, before, \w+\.Field\.column, p\.order\.Field\.column, )direction\)`)

var entgqlName = regexp.MustCompile(`\bentgql\.`)

// useRelay points the code entgql's templates generate at ent/relay, which has the same
// names, instead of entgql's package, which the server would otherwise link with its code
// generator (see ent/relay's doc).
func useRelay(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "gql_*.go"))
	if err != nil {
		return err
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if !bytes.Contains(src, []byte(`"entgo.io/contrib/entgql"`)) {
			continue
		}
		src = bytes.ReplaceAll(src, []byte(`"entgo.io/contrib/entgql"`), []byte(`"github.com/agora/agora/ent/relay"`))
		src = entgqlName.ReplaceAll(src, []byte("relay."))
		if filepath.Base(f) == "gql_pagination.go" {
			if n := len(readDirection.FindAllIndex(src, -1)); n == 0 || n != bytes.Count(src, []byte("relay.CursorsPredicate(")) {
				return fmt.Errorf("%s: %d of the pagers' applyCursors have entgql's shape: its template changed", f, n)
			}
			src = readDirection.ReplaceAll(src, []byte("${1}p.order.Direction)"))
		}
		if src, err = format.Source(src); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := os.WriteFile(f, src, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// A rewrite of generated code: what it matches and what replaces it (regexp's ReplaceAll).
type rewrite struct {
	match *regexp.Regexp
	with  string
}

// rewriteFiles applies each rewrite to the files glob matches, writes the files it changed
// (gofmt'ed: a removed line may leave a blank one), and returns how many places each rewrite
// matched, for the caller to check against the template's shape.
func rewriteFiles(glob string, rewrites ...rewrite) ([]int, error) {
	files, err := filepath.Glob(glob)
	if err != nil {
		return nil, err
	}
	counts := make([]int, len(rewrites))
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out := src
		for i, r := range rewrites {
			counts[i] += len(r.match.FindAllIndex(out, -1))
			out = r.match.ReplaceAll(out, []byte(r.with))
		}
		if !bytes.Equal(out, src) {
			if out, err = format.Source(out); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if err := os.WriteFile(f, out, 0o644); err != nil {
				return nil, err
			}
		}
	}
	return counts, nil
}

// oneToManyLoad is the predicate of ent's one-to-many eager loads (ent's dialect/sql/query
// template, which has no extension point there): the children of the parents' keys, fks.
var oneToManyLoad = regexp.MustCompile(`(?m)^(\s*)s\.Where\(sql\.InValues\(s\.C\((\w+\.\w+Column)\), fks\.\.\.\)\)$`)

// markParentKeys makes every one-to-many eager load hand its parents' keys to its selector
// (withParentKeys, ent/template/through.tmpl), so that a nested connection's limit per parent (limitPerRow, through.tmpl)
// reads each parent's first children from the index instead of all of them.
func markParentKeys(dir string) error {
	counts, err := rewriteFiles(filepath.Join(dir, "*_query.go"),
		rewrite{oneToManyLoad, "${1}s.WithContext(withParentKeys(s.Context(), fks)).Where(sql.InValues(s.C(${2}), fks...))"})
	if err != nil {
		return err
	}
	if counts[0] == 0 {
		return fmt.Errorf("no one-to-many eager load found in %s/*_query.go: ent's template changed", dir)
	}
	return nil
}

// sliceScan is how a select or group-by's sqlScan ends (ent's dialect/sql/select template).
var sliceScan = regexp.MustCompile(`(?m)^\treturn sql\.ScanSlice\(rows, v\)$`)

// scanSlices makes every select and group-by scan through scanSlice (ent/template/scan.tmpl),
// which reads a single column into []int or []string (Ints, Strings: the loaders' flags and IDs)
// without ent's reflection per row.
func scanSlices(dir string) error {
	counts, err := rewriteFiles(filepath.Join(dir, "*_query.go"), rewrite{sliceScan, "\treturn scanSlice(rows, v)"})
	if err != nil {
		return err
	}
	if counts[0] == 0 {
		return fmt.Errorf("no sql.ScanSlice in %s/*_query.go: ent's template changed", dir)
	}
	return nil
}

// What leanThroughLoads rewrites in ent's many-to-many eager loads (the same template), each with
// what replaces it.
var throughLoad = []rewrite{
	// A key and a slice made per row: reuseThroughRow (ent/template/through.tmpl) scans every row
	// into the same ones.
	{regexp.MustCompile(`(?m)^(\s*)spec\.ScanValues = func\(columns \[\]string\) \(\[\]any, error\) \{\n\s*values, err := values\(columns\[1:\]\)\n\s*if err != nil \{\n\s*return nil, err\n\s*\}\n\s*return append\(\[\]any\{new\(sql\.NullInt64\)\}, values\.\.\.\), nil\n\s*\}$`),
		"${1}spec.ScanValues = reuseThroughRow(values)"},
	// A set (a map) of parents per node, where a list does (a key pair is one row of the join
	// table), in the order of the rows.
	{regexp.MustCompile(`nids := make\(map\[(\w+)\]map\[\*(\w+)\]struct\{\}\)`), "nids := make(map[${1}][]*${2})"},
	{regexp.MustCompile(`nids\[inValue\] = map\[\*(\w+)\]struct\{\}\{byID\[outValue\]: \{\}\}`), "nids[inValue] = []*${1}{byID[outValue]}"},
	{regexp.MustCompile(`nids\[inValue\]\[byID\[outValue\]\] = struct\{\}\{\}`), "nids[inValue] = append(nids[inValue], byID[outValue])"},
	{regexp.MustCompile(`for kn := range nodes \{`), "for _, kn := range nodes {"},
}

// leanThroughLoads makes ent's many-to-many eager loads (a page's tags) allocate per row only
// what a row holds: ent made a key, a slice and, per node, a map of its parents.
func leanThroughLoads(dir string) error {
	counts, err := rewriteFiles(filepath.Join(dir, "*_query.go"), throughLoad...)
	if err != nil {
		return err
	}
	for _, n := range counts {
		if n == 0 || n != counts[0] {
			return fmt.Errorf("%s/*_query.go: %v many-to-many loads matched each rewrite: ent's template changed", dir, counts)
		}
	}
	return nil
}

// connectionEdges is how entgql's connections build their edges: one allocation per edge.
var connectionEdges = regexp.MustCompile(`(?m)^\tc\.Edges = make\(\[\]\*(\w+), len\(nodes\)\)\n\tfor i := range nodes \{\n\t\tnode := nodeAt\(i\)\n\t\tc\.Edges\[i\] = &\w+\{\n\t\t\tNode:   node,\n\t\t\tCursor: pager\.toCursor\(node\),\n\t\t\}\n\t\}$`)

// buildMethod begins each connection's build method: counted, left as it is.
var buildMethod = regexp.MustCompile(`\) build\(nodes \[\]\*`)

// edgesTogether makes each connection allocate its page's edges in one array (a post's comments
// are a connection: ten posts, ten arrays instead of fifty edges).
func edgesTogether(file string) error {
	counts, err := rewriteFiles(file, rewrite{buildMethod, "$0"}, rewrite{connectionEdges,
		"\tc.Edges = make([]*${1}, len(nodes))\n\tedges := make([]${1}, len(nodes))\n" +
			"\tfor i := range nodes {\n\t\tnode := nodeAt(i)\n\t\tedges[i] = ${1}{Node: node, Cursor: pager.toCursor(node)}\n\t\tc.Edges[i] = &edges[i]\n\t}"})
	if err != nil {
		return err
	}
	if counts[1] == 0 || counts[1] != counts[0] {
		return fmt.Errorf("%s: %d of the %d connections' build methods have entgql's shape: its template changed", file, counts[1], counts[0])
	}
	return nil
}

// What documentFields rewrites: entgql's field collection, and the import it then needs.
var (
	collectFields = regexp.MustCompile(`\bgraphql\.CollectFields\(`)
	gqlgenImport  = regexp.MustCompile(`\n\t"github.com/99designs/gqlgen/graphql"\n`)
)

// documentFields makes entgql's field collection (an ent query's eager loads and fields, read
// from the GraphQL selection) use internal/documents, as the executor does (graph/execpatch.go):
// the fields a cached document collects are collected once, not in every operation.
func documentFields(dir string) error {
	for _, file := range []string{"gql_collection.go", "gql_pagination.go"} {
		counts, err := rewriteFiles(filepath.Join(dir, file), rewrite{collectFields, "documents.CollectFields("},
			rewrite{gqlgenImport, "\n\t\"github.com/99designs/gqlgen/graphql\"\n\t\"github.com/agora/agora/internal/documents\"\n"})
		if err != nil {
			return err
		}
		if counts[0] == 0 || counts[1] != 1 {
			return fmt.Errorf("%s: %v matches of graphql.CollectFields and of gqlgen's import: entgql's template changed", file, counts)
		}
	}
	return nil
}

// What dropBadArgs rewrites: entgql's unmarshalArgs, which leaves an argument it cannot read (a
// cursor that is not one, an Int out of range) as it came, for newXPaginateArgs to assert to
// *Cursor or *int and panic.
var (
	badInt    = regexp.MustCompile(`(?m)^(\t+)if err == nil \{\n\t+args\[k\] = &i\n\t+\}$`)
	badCursor = regexp.MustCompile(`(?m)^(\t+)if c\.UnmarshalGQL\(v\) == nil \{\n\t+args\[k\] = c\n\t+\}$`)
)

// dropBadArgs makes field collection drop the arguments it cannot read: a nested connection's
// eager load then goes without them, and the field's own argument check reports the bad value as
// BAD_USER_INPUT at that field. Before, after: "x" on a nested connection panicked in its
// parent's collection, and the whole list failed as an internal error.
func dropBadArgs(file string) error {
	counts, err := rewriteFiles(file,
		rewrite{badInt, "${1}if err != nil {\n${1}\tdelete(args, k)\n${1}\tcontinue\n${1}}\n${1}args[k] = &i"},
		rewrite{badCursor, "${1}if c.UnmarshalGQL(v) != nil {\n${1}\tdelete(args, k)\n${1}\tcontinue\n${1}}\n${1}args[k] = c"})
	if err != nil {
		return err
	}
	if counts[0] != 1 || counts[1] != 1 {
		return fmt.Errorf("%s: %v matches of unmarshalArgs' Int and Cursor branches: entgql's template changed", file, counts)
	}
	return nil
}

// throughEdges keeps the edges ent adds for edge schemas (Post.post_tags for Post.tags through
// PostTag, Conversation.memberships) out of GraphQL: ent copies the annotations of the edge they
// serve, whose entgql order field (TAGS_COUNT) entgql refuses on them.
func throughEdges(next gen.Generator) gen.Generator {
	return gen.GenerateFunc(func(g *gen.Graph) error {
		for _, n := range g.Nodes {
			for _, e := range n.Edges {
				if e.Type.IsEdgeSchema() && !n.IsEdgeSchema() {
					e.Annotations = gen.Annotations{"EntGQL": map[string]any{"Skip": int(entgql.SkipAll)}}
				}
			}
		}
		return next.Generate(g)
	})
}

// computedColumns refuses a schema.Computed column that is not one of the type's: field collection
// would select a column that does not exist. (That the columns are all a resolver reads is for
// its tests to show, as TestMembersOnlyPosts does for a post's body.)
func computedColumns(next gen.Generator) gen.Generator {
	return gen.GenerateFunc(func(g *gen.Graph) error {
		for _, n := range g.Nodes {
			computed, _ := n.Annotations["Computed"].(map[string]any)
			for name, columns := range computed {
				list, _ := columns.([]any)
				for _, c := range list {
					if !hasColumn(n, fmt.Sprint(c)) {
						return fmt.Errorf("%s.%s: schema.Computed names %v, which is not a column of %s", n.Name, name, c, n.Table())
					}
				}
			}
		}
		return next.Generate(g)
	})
}

func hasColumn(n *gen.Type, column string) bool {
	for _, f := range n.Fields {
		if f.StorageKey() == column {
			return true
		}
	}
	return false
}

// templateDir adds the templates of dir after entgql's, so that where both define a template, ours
// is used (ent/template/pagination.tmpl and collection.tmpl replace entgql's), and with entgql's
// template functions, which those need.
func templateDir(dir string) entc.Option {
	return func(cfg *gen.Config) error {
		t, err := gen.NewTemplate("agora").Funcs(entgql.TemplateFuncs).ParseDir(dir)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", dir, err)
		}
		cfg.Templates = append(cfg.Templates, t)
		return nil
	}
}

// describe fills the descriptions entgql leaves out, so that every type and field of the schema
// has one: entity types (from their schema.Doc annotation), IDs and connection edges (from the edge's
// comment).
func describe(g *gen.Graph, s *ast.Schema) error {
	types := map[string]*gen.Type{}
	for _, t := range g.Nodes {
		types[t.Name] = t
	}
	for name, def := range s.Types {
		t := types[name]
		if t != nil && def.Description == "" {
			doc, _ := t.Annotations["Doc"].(string)
			if doc == "" {
				return fmt.Errorf("ent type %s has no schema.Doc annotation: every GraphQL type needs a description", name)
			}
			def.Description = doc
		}
		if t != nil {
			if err := describeEnums(t, s); err != nil {
				return err
			}
		}
		if name == "Query" && def.Description == "" {
			def.Description = "What can be read: start here, or from `node` with any ID."
		}
		for _, f := range def.Fields {
			if f.Description != "" {
				continue
			}
			switch {
			case f.Name == "id" && t != nil:
				f.Description = "Globally unique, opaque ID of the " + name + ": use it with `node(id:)`."
			case t != nil:
				for _, e := range t.Edges {
					if camel(e.Name) == f.Name {
						f.Description = e.Comment()
					}
				}
			}
		}
	}
	return nil
}

// describeEnums describes the values of t's enum fields (from their schema.Values annotation) and
// of its order-field enum (from the fields it orders by). It refuses orderings by an edge's count:
// entgql counts the rows through the edge without their privacy rules (hidden comments, drafts).
func describeEnums(t *gen.Type, s *ast.Schema) error {
	order := s.Types[t.Name+"OrderField"]
	for _, f := range t.Fields {
		if values, ok := f.Annotations["Values"].(map[string]any); ok {
			if enum := s.Types[t.Name+pascal(f.Name)]; enum != nil {
				for _, v := range enum.EnumValues {
					if v.Description == "" {
						v.Description, _ = values[v.Name].(string)
					}
				}
			}
		}
		if order != nil && orderField(f.Annotations) != "" {
			describeValue(order, orderField(f.Annotations), "Orders by "+lowerFirst(strings.TrimSuffix(f.Comment(), "."))+".")
		}
	}
	for _, e := range t.Edges {
		if orderField(e.Annotations) != "" {
			return fmt.Errorf("%s.%s: no ordering by an edge's count: it would count rows the viewer may not see", t.Name, e.Name)
		}
	}
	return nil
}

func orderField(annotations gen.Annotations) string {
	ant, _ := annotations["EntGQL"].(map[string]any)
	name, _ := ant["OrderField"].(string)
	return name
}

func describeValue(enum *ast.Definition, value, description string) {
	for _, v := range enum.EnumValues {
		if v.Name == value && v.Description == "" {
			v.Description = description
		}
	}
}

func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

func pascal(s string) string { c := camel(s); return strings.ToUpper(c[:1]) + c[1:] }

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }
