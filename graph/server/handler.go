package server

import (
	"context"
	"net/http"
	"net/url"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/apollofederatedtracingv1"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/agora/agora/graph/generated"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/loader"
)

// graphql is the GraphQL-over-HTTP handler: POST and GET, WebSocket and server-sent events.
func (a *App) graphql() http.Handler {
	c := a.cfg
	registerRequestErrors()
	limits := Limits{Depth: c.MaxDepth, Aliases: c.MaxAliases, RootFields: c.MaxRootFields,
		Tokens: c.MaxTokens, Cost: c.MaxCost}.withDefaults()
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: &a.Resolver}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(a.realtime.websocket())
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: a.realtime.KeepAlive}) // before POST: it takes POSTs asking for text/event-stream
	srv.AddTransport(getTransport{})
	srv.AddTransport(transport.POST{})
	srv.AddTransport(unsupported{}) // last: what no transport above takes
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(limits.Tokens)
	srv.SetErrorPresenter(errorPresenter(a.log))
	srv.SetRecoverFunc(recoverFunc)

	// Extensions, in the order they run: gqlgen calls each kind of hook (operation parameters,
	// operation context, operation, response, field) in the order of Use.
	srv.Use(observe{})                 // first: its span holds the other extensions' work
	srv.Use(socketBudget{a.budget})    // before the document is read: each operation over a socket pays like a request
	srv.Use(extension.Introspection{}) // gqlgen's switch, which also gates _service: see noIntrospection
	if !c.Introspection {
		srv.Use(noIntrospection{})
	}
	if !c.FieldSuggestions {
		withoutSuggestions(srv)
	}
	// Which documents run: trusted documents only, or any, with automatic persisted queries.
	if a.trusted != nil {
		srv.Use(trustedParams{a.trusted})
	} else {
		srv.Use(a.apq) // registers a document only once it passed parsing, validation and the limits
	}
	if c.OperationTimeout > 0 {
		srv.Use(operationTimeout{c.OperationTimeout})
	}
	srv.AroundFields(authorize)                 // directives, on every field, whoever sent the operation
	srv.Use(&apollofederatedtracingv1.Tracer{}) // ftv1 traces, when a router asks for them
	// operationLimits bounds depth, aliases, root fields and cost before pageLimits walks the
	// connections: pageLimits is safe only on an operation within those bounds.
	srv.Use(operationLimits{limits})
	srv.Use(pageLimits{})
	srv.Use(subscriptionCap{max: a.realtime.MaxSubscriptions})
	srv.Use(operationMetrics{a.metrics})
	// A mutation's payload reads with fresh loaders: what an earlier field loaded may predate it.
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		if graphql.GetOperationContext(ctx).Operation.Operation == ast.Mutation {
			ctx = loader.Renew(ctx)
		}
		return next(ctx)
	})
	maxWait := c.Channels.WithDefaults().RedisMaxWait // what one request may wait for Redis
	if a.guard != nil {
		srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
			if socketFrom(ctx) != nil {
				ctx = cache.WithWaitBudget(ctx, maxWait) // an operation over a socket waits on Redis as a request does
			}
			return next(ctx)
		})
	}
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if isSubscription(ctx) {
			ctx = loader.Renew(ctx) // each event reads afresh: a subscription outlives any cache
			if a.guard != nil {
				ctx = cache.WithWaitBudget(ctx, maxWait)
			}
		}
		resp := next(ctx)
		markCacheable(ctx, resp)
		return resp
	})
	if !c.Production() {
		srv.AroundResponses(reportStatements)
	}
	var h http.Handler = srv
	if a.trusted != nil {
		h = trustedDocuments(a.trusted, h)
	}
	return a.realtime.streams(cacheControl(int(c.PublicMaxAge.Seconds()), h))
}

// reportStatements adds extensions.dbStatements (the request's SQL statement count) to
// responses: a development aid, off in production.
func reportStatements(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if c := database.CounterFrom(ctx); c != nil && resp != nil {
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["dbStatements"] = c.N()
	}
	return resp
}

// defaultQuery is what GraphiQL shows first: something that works on an empty database and hints at
// what else there is.
const defaultQuery = `# Welcome to Agora. Sign up with the mutation below, copy the accessToken into the
# Headers tab as {"Authorization": "Bearer <accessToken>"}, then explore with the Docs panel.
query RecentPosts {
  posts(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount
    edges {
      node {
        slug
        title
        publishedAt
        author { username displayName }
        tags { name }
        likeCount
        commentCount
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}

mutation SignUp {
  register(input: {username: "ada", email: "ada@example.com", password: "correct horse battery"}) {
    accessToken
    user { id username }
  }
}
`

// graphiQL serves GraphiQL for the endpoint, opening with defaultQuery.
func graphiQL(endpoint string) http.Handler {
	page := playground.Handler("Agora GraphiQL", endpoint, playground.WithGraphiqlPersistStateInURL(true))
	start := "/?" + url.Values{"query": {defaultQuery}}.Encode()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.URL.RawQuery == "" {
			http.Redirect(w, r, start, http.StatusFound)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		page(w, r)
	})
}

func isSubscription(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) {
		return false
	}
	op := graphql.GetOperationContext(ctx).Operation
	return op != nil && op.Operation == ast.Subscription
}
