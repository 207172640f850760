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

// Computed names the GraphQL fields of an entity type that resolvers compute (schema/*.graphqls
// extends the type with them), each with the columns its resolver reads besides the ID. Field
// collection then reads only the columns a selection needs even when it holds such fields, and
// marks the query for loader.Prefetch; a field left out of Computed makes a selection read every
// column. ent/entc.go checks that the columns exist.
type Computed map[string][]string

// Name implements schema.Annotation.
func (Computed) Name() string { return "Computed" }
