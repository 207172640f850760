package server

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/plugin/federation/fedruntime"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/agora/agora/graph/generated"
)

// SubgraphSDL is the schema Agora gives a federation router as _service.sdl: the hand-written and
// generated schema files, without gqlgen's built-in definitions. It asks the schema itself, as a
// router would.
func SubgraphSDL() (string, error) {
	exec := executor.New(generated.NewExecutableSchema(generated.Config{}))
	exec.Use(extension.Introspection{}) // _service is federation's introspection
	ctx := graphql.StartOperationTrace(context.Background())
	oc, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: "{ _service { sdl } }"})
	if errs != nil {
		return "", errs
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	resp := responses(ctx)
	if len(resp.Errors) > 0 {
		return "", resp.Errors
	}
	var data struct {
		Service struct{ SDL string } `json:"_service"`
	}
	if err := json.Unmarshal(resp.Data, &data); err != nil {
		return "", err
	}
	if data.Service.SDL == "" {
		return "", errors.New("the schema gave no SDL")
	}
	return data.Service.SDL, nil
}

// authDirective matches an application of federation's authorization directives, with its
// arguments (which hold no parentheses), and the blanks before it.
var authDirective = regexp.MustCompile(`[ \t]*@(authenticated|requiresScopes|policy)\b(\s*\([^()]*\))?`)

// authImport matches those directives' names in @link's import list, with one comma.
var authImport = regexp.MustCompile(`\s*,\s*"@(authenticated|requiresScopes|policy)"|"@(authenticated|requiresScopes|policy)"\s*,\s*`)

// withoutAuthDirectives is a subgraph SDL without federation's authorization directives: neither
// imported by @link nor applied to any field, so that the supergraph composed from it links no
// feature `for: SECURITY`, which Apollo Gateway refuses to serve. Agora enforces the rules all the
// same: it reads them from its own schema (directives.go), not from the SDL it hands out. Comment
// lines are left as they are.
func withoutAuthDirectives(sdl string) string {
	lines := strings.Split(sdl, "\n")
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		line = authImport.ReplaceAllString(line, "")
		lines[i] = authDirective.ReplaceAllString(line, "")
	}
	return strings.Join(lines, "\n")
}

// omitAuthDirectives serves _service.sdl without the authorization directives
// (withoutAuthDirectives), computed once.
func omitAuthDirectives() graphql.FieldMiddleware {
	var once sync.Once
	var sdl string
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		res, err := next(ctx)
		svc, ok := res.(fedruntime.Service)
		if !ok || err != nil {
			return res, err
		}
		once.Do(func() { sdl = withoutAuthDirectives(svc.SDL) })
		svc.SDL = sdl
		return svc, nil
	}
}

// gqlgenDirectives are gqlgen's own: they tell the code generator how to bind Go code and mean
// nothing to a client.
var gqlgenDirectives = map[string]bool{"goModel": true, "goField": true, "goTag": true, "goExtraField": true,
	"goEnum": true, "entityResolver": true}

// fromFederation reports whether a definition comes from the federation sources gqlgen adds
// (its directives, _Any, _Entity, _Service, FieldSet, link__Import…, Query._entities and _service).
func fromFederation(pos *ast.Position) bool {
	return pos != nil && pos.Src != nil && pos.Src.BuiltIn && strings.Contains(pos.Src.Name, "federation/")
}

// ClientSDL is the public schema as client tools (graphql-js, Relay, GraphQL Code Generator,
// Apollo's codegen) read it: the types, fields and descriptions clients see, without what is for
// the server and the federation router alone — the @link schema extension, federation's
// directives (@key, @authenticated, @requiresScopes, @policy…) and types (_Any, _Entity,
// _Service, FieldSet…), Query._entities and _service, and gqlgen's directives (@goModel,
// @goField, @entityResolver). Directives it still uses are defined in it (the built-in ones,
// such as @deprecated, are every client's already).
func ClientSDL() string {
	full := generated.NewExecutableSchema(generated.Config{}).Schema()
	keep := func(name string) bool {
		d, ok := full.Directives[name]
		return ok && !gqlgenDirectives[name] && !fromFederation(d.Position)
	}
	directives := func(list ast.DirectiveList) ast.DirectiveList {
		var out ast.DirectiveList
		for _, d := range list {
			if keep(d.Name) {
				out = append(out, d)
			}
		}
		return out
	}
	args := func(list ast.ArgumentDefinitionList) ast.ArgumentDefinitionList {
		var out ast.ArgumentDefinitionList
		for _, a := range list {
			c := *a
			c.Directives = directives(a.Directives)
			out = append(out, &c)
		}
		return out
	}
	s := &ast.Schema{Types: map[string]*ast.Definition{}, Directives: map[string]*ast.DirectiveDefinition{},
		PossibleTypes: full.PossibleTypes, Implements: full.Implements, Description: full.Description}
	for name, d := range full.Directives {
		if keep(name) {
			s.Directives[name] = d
		}
	}
	for name, def := range full.Types {
		if fromFederation(def.Position) {
			continue
		}
		c := *def
		c.Directives = directives(def.Directives)
		c.Fields = nil
		for _, f := range def.Fields {
			if fromFederation(f.Position) {
				continue
			}
			fc := *f
			fc.Directives = directives(f.Directives)
			fc.Arguments = args(f.Arguments)
			c.Fields = append(c.Fields, &fc)
		}
		c.EnumValues = nil
		for _, v := range def.EnumValues {
			vc := *v
			vc.Directives = directives(v.Directives)
			c.EnumValues = append(c.EnumValues, &vc)
		}
		s.Types[name] = &c
	}
	s.Query, s.Mutation, s.Subscription = s.Types[full.Query.Name], nil, nil
	if full.Mutation != nil {
		s.Mutation = s.Types[full.Mutation.Name]
	}
	if full.Subscription != nil {
		s.Subscription = s.Types[full.Subscription.Name]
	}
	var b strings.Builder
	formatter.NewFormatter(&b, formatter.WithIndent("  ")).FormatSchema(s)
	return b.String()
}
