package schema

// Doc is an entity type's GraphQL description. entgql describes fields and edges from their
// comments but types from nothing: ent/entc.go's schema hook writes Doc into schema/ent.graphql
// (and refuses a GraphQL type without one).
type Doc string

// Name implements schema.Annotation.
func (Doc) Name() string { return "Doc" }

// Values describes the values of an enum field, for GraphQL, as Doc does types.
type Values map[string]string

// Name implements schema.Annotation.
func (Values) Name() string { return "Values" }
