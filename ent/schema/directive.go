package schema

import (
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/agora/agora/ent/schema/gql"
)

// requiresScopes is federation's @requiresScopes directive (schema/federation.graphqls) for ent fields: the
// viewer needs every scope of at least one group.
func requiresScopes(groups ...[]string) gql.Directive {
	outer := &ast.Value{Kind: ast.ListValue}
	for _, g := range groups {
		inner := &ast.Value{Kind: ast.ListValue}
		for _, s := range g {
			inner.Children = append(inner.Children, &ast.ChildValue{Value: &ast.Value{Kind: ast.StringValue, Raw: s}})
		}
		outer.Children = append(outer.Children, &ast.ChildValue{Value: inner})
	}
	return gql.NewDirective("requiresScopes", &ast.Argument{Name: "scopes", Value: outer})
}
