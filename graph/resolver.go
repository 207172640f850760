// Package graph is the GraphQL adapter: the gqlgen handler, directives, the error presenter and
// resolvers that delegate to ent or to an internal domain package.
package graph

import (
	"github.com/agora/agora/ent"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/publish"
	"github.com/agora/agora/internal/social"
)

// Resolver is the root of the resolvers: every dependency they use.
type Resolver struct {
	client   *ent.Client
	accounts *account.Service
	publish  *publish.Service
	social   *social.Service
}

// orNil makes a lookup answer null, not an error, when nothing matches: the GraphQL convention for
// fields like user(username) and node(id).
func orNil[T any](v *T, err error) (*T, error) {
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}
