package server

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/agora/agora/internal/httpx"
	"github.com/agora/agora/internal/trusted"
)

// trustedDocuments lets HTTP requests run only the documents of the manifest: by id (documentId,
// or Apollo's extensions.persistedQuery.sha256Hash) or by a text the manifest holds. What passes
// reaches gqlgen rewritten to exactly the parameters checked; the rest is refused with 400 and
// the refusal's code. WebSocket operations are checked by trustedParams.
func trustedDocuments(m *trusted.Manifest, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(ref *trusted.Refusal) {
			httpx.WriteError(w, r, http.StatusBadRequest, ref.Code, ref.Message, nil)
		}
		switch {
		case r.Header.Get("Upgrade") != "":
		case r.Method == http.MethodGet && streamToken(r) != "" && r.URL.Query().Get("query") == "":
			// Opens a graphql-sse stream: its operations are POSTed, and checked then.
		case r.Method == http.MethodGet:
			q := r.URL.Query()
			id := q.Get("documentId")
			if id == "" {
				id = persistedHash(json.RawMessage(q.Get("extensions")))
			}
			doc, ref := m.Resolve(q.Get("query"), id)
			if ref != nil {
				refuse(ref)
				return
			}
			q.Set("query", doc)
			q.Del("documentId")
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
		case r.Method == http.MethodPost:
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				break // no transport takes it: gqlgen refuses it
			}
			b, err := httpx.Body(r)
			var params map[string]json.RawMessage
			if err != nil || json.Unmarshal(b, &params) != nil {
				break // not a JSON object: gqlgen refuses it
			}
			var query, id string
			if raw, ok := params["query"]; ok && json.Unmarshal(raw, &query) != nil {
				break // gqlgen refuses a query that is not a string
			}
			if raw, ok := params["documentId"]; ok {
				_ = json.Unmarshal(raw, &id)
			}
			if id == "" {
				id = persistedHash(params["extensions"])
			}
			doc, ref := m.Resolve(query, id)
			if ref != nil {
				refuse(ref)
				return
			}
			// Only the parameters looked at go on (gqlgen matches JSON keys without regard to case).
			rewritten := map[string]any{"query": doc}
			for _, k := range []string{"operationName", "variables", "extensions"} {
				if v, ok := params[k]; ok {
					rewritten[k] = v
				}
			}
			body, _ := json.Marshal(rewritten)
			r = r.Clone(r.Context())
			r.Body, r.ContentLength = httpx.NewBody(body), int64(len(body))
		}
		next.ServeHTTP(w, r)
	})
}

// persistedHash is the sha256Hash of Apollo's persistedQuery extension, or "".
func persistedHash(extensions json.RawMessage) string {
	var ext struct {
		PersistedQuery struct {
			Sha256Hash string `json:"sha256Hash"`
		} `json:"persistedQuery"`
	}
	_ = json.Unmarshal(extensions, &ext)
	return ext.PersistedQuery.Sha256Hash
}

// trustedParams holds every transport to the manifest: a query that is not in it (or an id that
// is not) is refused before parsing. It takes the place of automatic persisted queries, so no
// client can register a document.
type trustedParams struct{ m *trusted.Manifest }

func (trustedParams) ExtensionName() string                   { return "TrustedDocuments" }
func (trustedParams) Validate(graphql.ExecutableSchema) error { return nil }

func (t trustedParams) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	ext, _ := json.Marshal(p.Extensions)
	doc, ref := t.m.Resolve(p.Query, persistedHash(ext))
	if ref != nil {
		return &gqlerror.Error{Message: ref.Message, Extensions: map[string]any{"code": ref.Code}}
	}
	p.Query = doc
	return nil
}
