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
