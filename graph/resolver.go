// Package graph holds the resolvers: adapters that delegate to ent or to an internal domain
// package. gqlgen's generated code is in graph/generated; the HTTP server in graph/server.
package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/relay"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/billing"
	"github.com/agora/agora/internal/identity"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/media"
	"github.com/agora/agora/internal/message"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/publish"
	"github.com/agora/agora/internal/search"
	"github.com/agora/agora/internal/social"
)

// Resolver is the root of the resolvers: every dependency they use.
//
// One rule for a mutation's payload: it holds what the service returns — the entities the service
// wrote, or read as the viewer while writing, unwrapped — and the resolver copies them in without
// reading anything back. The payload's own fields then load through the fresh loaders a mutation's
// payload gets.
type Resolver struct {
	Client   *ent.Client
	Accounts *account.Service
	Publish  *publish.Service
	Social   *social.Service
	Notices  *notify.Service
	Messages *message.Service
	Live     *live.Service
	Searcher *search.Service
	Identity *identity.Service
	Images   *media.Service
	Queue    *jobs.Queue // the durable job queue
	Billing  *billing.Service
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

// entities resolves federation representations through the loaders, like nodes: one query per
// type on a cold cache, none on a warm one, and nil where the viewer may see no such entity.
func entities[T ent.Noder, R any](ctx context.Context, client *ent.Client, reps []R, id func(R) int) ([]T, error) {
	ids := make([]int, len(reps))
	for i, rep := range reps {
		ids[i] = id(rep)
	}
	nodes, err := loader.Nodes(ctx, client, ids)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(nodes))
	for i, n := range nodes {
		out[i], _ = n.(T) // an ID of another type names no such entity
	}
	return out, nil
}

// searchArgs are a search field's arguments; totalCount is counted only when selected.
func searchArgs(ctx context.Context, query string, first *int, after *relay.Cursor[int]) search.PageArgs {
	a := search.PageArgs{Query: query, After: after}
	if first != nil {
		a.First = *first
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		a.TotalCount = a.TotalCount || f.Name == "totalCount"
	}
	return a
}

// deref is *s, or "" for nil: an optional string argument.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
