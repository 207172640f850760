package server

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/apollofederatedtracingv1"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/agora/agora/graph/generated"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/documents"
	"github.com/agora/agora/internal/loader"
)

// graphql is the GraphQL-over-HTTP handler: POST and GET, WebSocket, server-sent events (both of
// graphql-sse's modes) and Apollo's multipart subscriptions.
func (a *App) graphql() http.Handler {
	c := a.cfg.GraphQL
	registerRequestErrors()
	limits := a.cfg.Limits
	schema := generated.NewExecutableSchema(generated.Config{Resolvers: &a.Resolver})
	srv := handler.New(schema)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(a.realtime.websocket())
	srv.AddTransport(singleConnection{a.realtime, a.sseStreams}) // graphql-sse's single-connection mode: PUT, DELETE, and requests with a stream token
	srv.AddTransport(httpTransport{a.realtime})                  // GET and JSON POST: one JSON response, or a stream (SSE, multipart) as negotiated
	// Uploads by the GraphQL multipart request spec (limitUploads bounds the body; CSRF prevention
	// asks these "simple" requests for a preflight header). Files past 4 MiB wait on disk.
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: a.uploadBodyBytes(), MaxMemory: 4 << 20})
	srv.AddTransport(unsupported{}) // last: what no transport above takes
	// Parsed and validated documents, with the fields they collect.
	docs := documents.New(1000)
	srv.SetQueryCache(docs)
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
	// Bounds validation's work: after the extensions above have chosen the document, before
	// gqlgen parses and validates it (parsing is linear; some validation rules are not).
	srv.Use(newDocumentLimits(schema.Schema(), docs, limits))
	if c.OperationTimeout > 0 {
		srv.Use(operationTimeout{c.OperationTimeout})
	}
	// Field middleware, chosen per operation: directives on the fields that carry them, whoever
	// sent the operation; _service.sdl without them for Apollo Gateway when so configured; ftv1
	// traces when a router asks for them.
	var omitService graphql.FieldMiddleware
	if c.FederationAuthDirectives == config.AuthDirectivesOmit {
		omitService = omitAuthDirectives()
	}
	tracer := &apollofederatedtracingv1.Tracer{}
	srv.Use(newFieldHooks(omitService, tracer))
	srv.Use(ftv1Traces{tracer})
	// operationLimits bounds depth, aliases, root fields and cost before pageLimits walks the
	// connections: pageLimits is safe only on an operation within those bounds.
	srv.Use(operationLimits{limits, schema.Schema()})
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
	maxWait := a.cfg.Channels.RedisMaxWait // what one request may wait for Redis
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
	if !a.cfg.Production() {
		srv.AroundResponses(reportStatements)
	}
	var h http.Handler = srv
	if a.trusted != nil {
		h = trustedDocuments(a.trusted, h)
	}
	return a.realtime.streams(cacheControl(int(a.cfg.HTTP.PublicMaxAge.Seconds()), h))
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
const defaultQuery = `# Welcome to Agora. Sign up with the SignUp mutation below,
# put its accessToken in the Authorization line of the
# Headers tab (and remove the //), then explore with Docs.
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

func isSubscription(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) {
		return false
	}
	op := graphql.GetOperationContext(ctx).Operation
	return op != nil && op.Operation == ast.Subscription
}
