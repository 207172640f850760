package server_test

import (
	"strings"
	"testing"

	"github.com/agora/agora/graph/generated"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestSchemaDescribed: every type, field, argument, input field and enum value of the public
// schema has a description, for GraphiQL's docs and generated clients. Hand-written types get
// theirs in schema/*.graphqls; ent's from its comments and schema.Doc (ent/entc.go).
func TestSchemaDescribed(t *testing.T) {
	s := generated.NewExecutableSchema(generated.Config{}).Schema()
	var missing []string
	for _, d := range s.Types {
		if d.BuiltIn || strings.HasPrefix(d.Name, "_") || federationScalar(d) {
			continue
		}
		if d.Description == "" {
			missing = append(missing, d.Name)
		}
		for _, f := range d.Fields {
			if strings.HasPrefix(f.Name, "_") { // __typename, federation's _service and _entities
				continue
			}
			if f.Description == "" {
				missing = append(missing, d.Name+"."+f.Name)
			}
			for _, a := range f.Arguments {
				if a.Description == "" {
					missing = append(missing, d.Name+"."+f.Name+"("+a.Name+")")
				}
			}
		}
		for _, v := range d.EnumValues {
			if v.Description == "" {
				missing = append(missing, d.Name+"."+v.Name)
			}
		}
	}
	for _, d := range s.Directives {
		gqlgens := strings.HasPrefix(d.Name, "go") // goModel, goField…: gqlgen's own
		if !d.Position.Src.BuiltIn && d.Description == "" && !gqlgens {
			missing = append(missing, "@"+d.Name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d without a description:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}

// federationScalar reports the scalars the federation plugin declares (FieldSet, _Any, link's
// Import…): theirs to describe.
func federationScalar(d *ast.Definition) bool {
	return d.Kind == ast.Scalar && d.Position != nil && d.Position.Src != nil && strings.Contains(d.Position.Src.Name, "federation")
}
