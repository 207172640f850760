package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestPublicSchemaCommitted: schema.graphql (the schema as the server has it) and
// schema/client.graphql (what client tools read) are what Agora prints (go generate rewrites them).
func TestPublicSchemaCommitted(t *testing.T) {
	for file, inv := range map[string]invocation{"schema.graphql": {cmd: "schema"}, "schema/client.graphql": {cmd: "schema", client: true}} {
		var b strings.Builder
		if err := printSchema(&b, inv); err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(committed) != b.String() {
			t.Errorf("%s is out of date: run go generate ./... and commit it", file)
		}
	}
	var b strings.Builder
	if err := printSchema(&b, invocation{cmd: "schema", args: []string{"subgraph"}}); err != nil || !strings.Contains(b.String(), `extend type User @key(fields: "id")`) {
		t.Fatalf("agora schema subgraph: %v\n%s", err, b.String())
	}
}

// TestClientSchema: schema/client.graphql is a schema on its own (gqlparser loads it with no
// other source, so every directive it uses is defined in it or built in), it holds every type and
// root field clients use, and nothing of federation or gqlgen: no @link, @key, @shareable,
// @authenticated, @requiresScopes, @policy, @goModel, @goField, @entityResolver, no _entities,
// _service, _Any, _Entity, _Service or FieldSet.
func TestClientSchema(t *testing.T) {
	sdl, err := os.ReadFile("schema/client.graphql")
	if err != nil {
		t.Fatal(err)
	}
	s, gerr := gqlparser.LoadSchema(&ast.Source{Name: "client.graphql", Input: string(sdl)})
	if gerr != nil {
		t.Fatalf("gqlparser does not load the client schema: %v", gerr)
	}
	for _, name := range []string{"_entities", "_service"} {
		if s.Query.Fields.ForName(name) != nil {
			t.Errorf("Query.%s is in the client schema", name)
		}
	}
	for _, name := range []string{"_Any", "_Entity", "_Service", "FieldSet", "link__Import", "link__Purpose", "federation__Scope", "federation__Policy"} {
		if s.Types[name] != nil {
			t.Errorf("type %s is in the client schema", name)
		}
	}
	if m := regexp.MustCompile(`@(link|key|shareable|external|requires|provides|extends|override|inaccessible|tag|interfaceObject|composeDirective|authenticated|requiresScopes|policy|goModel|goField|goTag|goExtraField|goEnum|entityResolver)\b`).Find(sdl); m != nil {
		t.Errorf("the client schema still has %s", m)
	}
	if strings.Contains(string(sdl), "extend schema") {
		t.Error("the client schema extends the schema (federation's @link)")
	}
	for name, d := range s.Directives {
		if d.Position == nil || !d.Position.Src.BuiltIn {
			t.Errorf("the client schema defines directive @%s: client tools do not know it", name)
		}
	}

	// Everything else is the server's schema: the same types, fields and arguments.
	var full strings.Builder
	if err := printSchema(&full, invocation{cmd: "schema"}); err != nil {
		t.Fatal(err)
	}
	server, gerr := gqlparser.LoadSchema(append(federationStubs(), &ast.Source{Name: "schema.graphql", Input: full.String()})...)
	if gerr != nil {
		t.Fatalf("schema.graphql with federation's definitions: %v", gerr)
	}
	for name, def := range server.Types {
		if def.BuiltIn || strings.HasPrefix(name, "_") || name == "FieldSet" || strings.Contains(name, "__") {
			continue
		}
		c := s.Types[name]
		if c == nil {
			t.Errorf("type %s is missing from the client schema", name)
			continue
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "_") {
				continue
			}
			cf := c.Fields.ForName(f.Name)
			if cf == nil || cf.Type.String() != f.Type.String() || len(cf.Arguments) != len(f.Arguments) || cf.Description != f.Description {
				t.Errorf("%s.%s differs in the client schema", name, f.Name)
			}
		}
	}
	for _, root := range []string{"viewer", "feed", "search", "node", "nodes"} {
		if s.Query.Fields.ForName(root) == nil {
			t.Errorf("Query.%s is missing", root)
		}
	}
	if s.Mutation == nil || s.Subscription == nil || s.Mutation.Fields.ForName("refreshSession") == nil || s.Subscription.Fields.ForName("commentAdded") == nil {
		t.Error("the client schema lacks its mutations or subscriptions")
	}
}

// federationStubs define what schema.graphql uses from federation and gqlgen, so that gqlparser
// can load it to compare.
func federationStubs() []*ast.Source {
	return []*ast.Source{{Name: "federation.graphql", BuiltIn: true, Input: `
scalar FieldSet
scalar link__Import
scalar federation__Scope
scalar federation__Policy
directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[federation__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @policy(policies: [[federation__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
`}}
}
