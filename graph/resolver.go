// Package graph is the GraphQL adapter: the gqlgen handler, directives, the error presenter and
// resolvers that delegate to ent or to an internal domain package.
package graph

import (
	"context"

	"github.com/vikstrous/dataloadgen"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/message"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/publish"
	"github.com/agora/agora/internal/social"
)

// Resolver is the root of the resolvers: every dependency they use.
type Resolver struct {
	client   *ent.Client
	accounts *account.Service
	publish  *publish.Service
	social   *social.Service
	notify   *notify.Service
	message  *message.Service
	live     *live.Service
}

// orNil makes a lookup answer null, not an error, when nothing matches: the GraphQL convention for
// fields like user(username) and node(id).
func orNil[T any](v *T, err error) (*T, error) {
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}

// unique resolves a to-one edge: eager-loaded by field collection when possible, else through
// the loader by its foreign key.
func unique[T any](ctx context.Context, loaded func() (*T, error), l *dataloadgen.Loader[int, *T], id int) (*T, error) {
	v, err := loaded()
	if ent.IsNotLoaded(err) {
		return byID(ctx, l, id)
	}
	return v, err
}

// byID loads an entity through the request's loaders: NOT_FOUND when the viewer may not see it.
func byID[T any](ctx context.Context, l *dataloadgen.Loader[int, *T], id int) (*T, error) {
	v, err := l.Load(ctx, id)
	if err == nil && v == nil {
		err = apperr.NotFoundf("not found")
	}
	return v, err
}
