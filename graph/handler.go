package graph

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/apollofederatedtracingv1"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/message"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/publish"
	"github.com/agora/agora/internal/search"
	"github.com/agora/agora/internal/social"
	"github.com/agora/agora/internal/telemetry"
	"github.com/agora/agora/internal/trusted"
)

// Deps are what the GraphQL layer needs.
type Deps struct {
	Client   *ent.Client
	Accounts *account.Service
	Publish  *publish.Service
	Social   *social.Service
	Notify   *notify.Service
	Message  *message.Service
	Live     *live.Service
	Search   *search.Service
	Log      *slog.Logger
	// PersistedQueries stores automatic persisted queries (hash → query).
	PersistedQueries graphql.Cache[string]
	// PublicMaxAge is how long shared caches may keep anonymous GET answers; 0 forbids it.
	PublicMaxAge time.Duration
	// Limits bound each operation (DefaultLimits where zero).
	Limits Limits
	// Realtime configures subscriptions.
	Realtime Realtime
	// Introspection allows __schema and __type; FieldSuggestions lets validation errors suggest
	// names ("Did you mean …?"). Both reveal the schema: off in production unless configured.
	Introspection, FieldSuggestions bool
	// TrustedDocuments, when set, is the only source of operations: no others run, and automatic
	// persisted queries are off.
	TrustedDocuments *trusted.Manifest
	// OperationTimeout is the deadline of each query and mutation (0: none).
	OperationTimeout time.Duration
	// ReportStatements adds extensions.dbStatements (the request's SQL statement count) to
	// responses: a development aid, off in production.
	ReportStatements bool
	// Metrics counts operations, errors and sockets (nil: not at all).
	Metrics *telemetry.Metrics
}

// NewHandler returns the GraphQL-over-HTTP handler: POST (JSON) and GET (queries only).
func NewHandler(d Deps) http.Handler {
	d.Limits = d.Limits.withDefaults()
	schema := NewExecutableSchema(Config{
		Resolvers: &Resolver{client: d.Client, accounts: d.Accounts, publish: d.Publish, social: d.Social,
			notify: d.Notify, message: d.Message, live: d.Live, search: d.Search},
	})
	srv := handler.New(schema)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(d.Realtime.websocket())
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: d.Realtime.KeepAlive}) // before POST: it takes POSTs asking for text/event-stream
	srv.AddTransport(getTransport{})
	srv.AddTransport(transport.POST{})
	srv.AddTransport(unsupported{}) // last: what no transport above takes
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(observe{})                 // first: its span holds the other extensions' work
	srv.Use(extension.Introspection{}) // gqlgen's switch, which also gates _service: see noIntrospection
	if !d.Introspection {
		srv.Use(noIntrospection{})
	}
	if !d.FieldSuggestions {
		withoutSuggestions(srv)
	}
	if d.TrustedDocuments != nil {
		srv.Use(trustedParams{d.TrustedDocuments})
	} else {
		srv.Use(extension.AutomaticPersistedQuery{Cache: d.PersistedQueries})
	}
	if d.OperationTimeout > 0 {
		srv.Use(operationTimeout{d.OperationTimeout})
	}
	srv.AroundFields(authorize)
	srv.Use(&apollofederatedtracingv1.Tracer{}) // ftv1 traces, when a router asks for them
	srv.SetParserTokenLimit(d.Limits.Tokens)
	srv.Use(operationLimits{d.Limits})
	srv.Use(pageLimits{})
	srv.Use(subscriptionCap{max: d.Realtime.MaxSubscriptions})
	srv.SetErrorPresenter(errorPresenter(d.Log))
	srv.Use(operationMetrics{d.Metrics})
	// A mutation's payload reads with fresh loaders: what an earlier field loaded may predate it.
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		if graphql.GetOperationContext(ctx).Operation.Operation == ast.Mutation {
			ctx = loader.Renew(ctx)
		}
		return next(ctx)
	})
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if isSubscription(ctx) {
			ctx = loader.Renew(ctx) // each event reads afresh: a subscription outlives any cache
		}
		resp := next(ctx)
		markCacheable(ctx, resp)
		return resp
	})
	if d.ReportStatements {
		srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
			resp := next(ctx)
			if c := database.CounterFrom(ctx); c != nil && resp != nil {
				if resp.Extensions == nil {
					resp.Extensions = map[string]any{}
				}
				resp.Extensions["dbStatements"] = c.N()
			}
			return resp
		})
	}
	srv.SetRecoverFunc(recoverFunc)
	var h http.Handler = srv
	if d.TrustedDocuments != nil {
		h = trustedDocuments(d.TrustedDocuments, h)
	}
	d.Realtime.metrics = d.Metrics
	return d.Realtime.streams(cacheControl(int(d.PublicMaxAge.Seconds()), h))
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

// NewGraphiQL serves GraphiQL for the endpoint, opening with defaultQuery.
func NewGraphiQL(endpoint string) http.Handler {
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
