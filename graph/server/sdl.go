package server

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"

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
