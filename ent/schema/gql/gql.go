//go:build !entcodegen

// Package gql is the schema's GraphQL annotations (entgql's: what to skip, order fields, Relay
// connections, directives). Only code generation reads them: ent/entc.go loads the schema with the
// entcodegen build tag, under which they are entgql's (entgql.go). Without it, in the server, they
// are placeholders, so that the server does not link entgql, whose package also holds its code
// generator (see ent/relay).
package gql

import (
	"entgo.io/ent/schema"
	"github.com/vektah/gqlparser/v2/ast"
)

// SkipMode is what Skip leaves out of the GraphQL schema.
type SkipMode int

const (
	SkipType SkipMode = 1 << iota
	SkipEnumField
	SkipOrderField
	SkipWhereInput
	SkipMutationCreateInput
	SkipMutationUpdateInput
	SkipAll SkipMode = 1<<iota - 1
)

// Directive is a GraphQL directive on a type or field.
type Directive struct{}

// placeholder stands for an entgql annotation where nothing reads it.
type placeholder struct{}

func (placeholder) Name() string { return "EntGQL" }

func Skip(...SkipMode) schema.Annotation              { return placeholder{} }
func OrderField(string) schema.Annotation             { return placeholder{} }
func RelayConnection() schema.Annotation              { return placeholder{} }
func Directives(...Directive) schema.Annotation       { return placeholder{} }
func NewDirective(string, ...*ast.Argument) Directive { return Directive{} }
