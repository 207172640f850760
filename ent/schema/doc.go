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

// Joined marks an entity type that any reader may read whole: it has no query rules (no privacy
// Query policy, no interceptors of its own). Field collection then reads it, where a selection
// holds it as the unique edge whose key the parent holds (Post.author, Comment.author), in the
// parent's statement with a join, instead of a statement of its own (ent/template/join.tmpl). A
// selection of the edge with edges or computed fields below it is still loaded on its own.
// TestJoinedTypesHaveNoQueryRules holds the condition.
type Joined bool

// Name implements schema.Annotation.
func (Joined) Name() string { return "Joined" }
