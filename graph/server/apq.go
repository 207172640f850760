package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// persistedQueries is Apollo's automatic persisted queries (version 1): a client sends the
// SHA-256 of its document and the document only when the server asks (PERSISTED_QUERY_NOT_FOUND).
//
// Unlike gqlgen's extension.AutomaticPersistedQuery, which stores a document as soon as its hash
// matches, this one registers a document only once it has parsed, validated and passed every
// operation limit — when the operation is about to run — and only when it is at most maxBytes
// long and the caller's registration budget allows. A document that is not registered still runs;
// the client just sends it again next time. So the store holds only documents Agora would run,
// each of bounded size, at a bounded rate per caller.
type persistedQueries struct {
	cache    graphql.Cache[string]
	maxBytes int
	// register takes one registration from the caller's budget; false: do not store.
	register func(ctx context.Context) bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationInterceptor
} = persistedQueries{}

func (persistedQueries) ExtensionName() string                   { return "AutomaticPersistedQuery" }
func (persistedQueries) Validate(graphql.ExecutableSchema) error { return nil }

// apqStatsKey is gqlgen's: extension.GetApqStats reads what this extension records.
const apqStatsKey = "APQ"

// apqPending is a document to register once its operation passed every check.
type apqPending struct{ hash string }

const apqPendingKey = "APQPending"

func (p persistedQueries) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	raw, ok := params.Extensions["persistedQuery"]
	if !ok || raw == nil {
		return nil
	}
	ext, ok := raw.(map[string]any)
	if !ok {
		return gqlerror.Errorf("invalid APQ extension data")
	}
	hash, _ := ext["sha256Hash"].(string)
	if v, _ := number(ext["version"]); v != 1 {
		return gqlerror.Errorf("unsupported APQ version")
	}
	oc := graphql.GetOperationContext(ctx)
	if params.Query == "" {
		q, ok := p.cache.Get(ctx, hash)
		if !ok {
			err := gqlerror.Errorf("PersistedQueryNotFound")
			errcode.Set(err, "PERSISTED_QUERY_NOT_FOUND")
			return err
		}
		params.Query = q
		oc.Stats.SetExtension(apqStatsKey, &extension.ApqStats{Hash: hash})
		return nil
	}
	sum := sha256.Sum256([]byte(params.Query))
	if !strings.EqualFold(hex.EncodeToString(sum[:]), hash) {
		return gqlerror.Errorf("provided APQ hash does not match query")
	}
	oc.Stats.SetExtension(apqStatsKey, &extension.ApqStats{Hash: hash, SentQuery: true})
	if len(params.Query) <= p.maxBytes {
		oc.Stats.SetExtension(apqPendingKey, &apqPending{hash: hash})
	}
	return nil
}

// InterceptOperation registers the document of an operation that parsed, validated and passed
// the limits: gqlgen calls operation interceptors only then.
func (p persistedQueries) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if pending, ok := oc.Stats.GetExtension(apqPendingKey).(*apqPending); ok && p.register(ctx) {
		p.cache.Add(ctx, pending.hash, oc.RawQuery)
	}
	return next(ctx)
}

// number reads a JSON number as decoded by gqlgen's transports (json.Number) or encoding/json
// (float64).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}
