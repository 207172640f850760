//go:build entcodegen

package gql

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent/schema"
	"github.com/vektah/gqlparser/v2/ast"
)

type (
	SkipMode  = entgql.SkipMode
	Directive = entgql.Directive
)

const (
	SkipType                = entgql.SkipType
	SkipEnumField           = entgql.SkipEnumField
	SkipOrderField          = entgql.SkipOrderField
	SkipWhereInput          = entgql.SkipWhereInput
	SkipMutationCreateInput = entgql.SkipMutationCreateInput
	SkipMutationUpdateInput = entgql.SkipMutationUpdateInput
	SkipAll                 = entgql.SkipAll
)

func Skip(modes ...SkipMode) schema.Annotation { return entgql.Skip(modes...) }
func OrderField(name string) schema.Annotation { return entgql.OrderField(name) }
func RelayConnection() schema.Annotation       { return entgql.RelayConnection() }
func Directives(directives ...Directive) schema.Annotation {
	return entgql.Directives(directives...)
}
func NewDirective(name string, args ...*ast.Argument) Directive {
	return entgql.NewDirective(name, args...)
}
