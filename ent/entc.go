//go:build ignore

// entc.go generates the ent client and, through entgql, schema/ent.graphql.
// Run from the repository root: go run -mod=mod ./ent/entc.go
package main

import (
	"log"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./schema/ent.graphql"),
		entgql.WithWhereInputs(true),
		entgql.WithNodeDescriptor(false),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Target:  "./ent",
		Package: "github.com/agora/agora/ent",
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
	}, entc.Extensions(ex), entc.TemplateDir("./ent/template"))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}
