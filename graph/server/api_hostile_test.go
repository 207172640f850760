package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agora/agora/internal/config"
)

// hostile is a request built to hurt or trick the server, and the answer it must get.
type hostile struct {
	name        string
	method      string // POST when empty
	contentType string // application/json when empty; "-" sends none
	headers     map[string]string
	query       url.Values // GET parameters
	body        []byte
	production  bool   // sent to a server configured as in production
	status      int    // the HTTP status it must get
	code        string // the extensions.code of its first error
}

// gqlBody is the JSON body of a GraphQL request.
func gqlBody(query string, variables any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": variables})
	return b
}

func hostileRequests() []hostile {
	deep := "{ viewer { " + strings.Repeat("followers(first: 1) { edges { node { ", 5) + "id" + strings.Repeat(" } } }", 5) + " } }"
	aliases := "{ "
	for i := range 40 {
		aliases += fmt.Sprintf("a%d: viewer { id } ", i)
	}
	aliases += "}"
	var frags strings.Builder
	for i := range 40 {
		fmt.Fprintf(&frags, "fragment F%d on User { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	frags.WriteString("fragment F40 on User { id }\n")
	unknownHash := sha256.Sum256([]byte("never sent"))
	preflight := map[string]string{"Apollo-Require-Preflight": "true"}
	batch := make([]map[string]string, 100)
	for i := range batch {
		batch[i] = map[string]string{"query": "{ __typename }"}
	}
	batchBody, _ := json.Marshal(batch)
	typename := []byte(`{"query": "{ __typename }"}`)
	const search = `query($q: String!) { search(query: $q, first: 5) { totalCount } }`
	return []hostile{
		{name: "depth bomb", body: gqlBody(deep, nil), status: 400, code: "OPERATION_LIMIT"},
		{name: "alias bomb", body: gqlBody(aliases, nil), status: 400, code: "OPERATION_LIMIT"},
		{name: "fragment expansion bomb", body: gqlBody("{ viewer { ...F0 } }\n"+frags.String(), nil), status: 400, code: "OPERATION_LIMIT"},
		{name: "fragment cycle", body: gqlBody("fragment A on User { ...B } fragment B on User { ...A } { viewer { ...A } }", nil), status: 400, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "token flood", body: gqlBody("{ "+strings.Repeat("__typename ", 16_000)+"}", nil), status: 400, code: "GRAPHQL_PARSE_FAILED"},
		{name: "invalid JSON", body: []byte(`{"query": "{ __typename }"`), status: 400, code: "BAD_REQUEST"},
		{name: "JSON of the wrong shape", body: []byte(`{"query": ["{ __typename }"]}`), status: 400, code: "BAD_REQUEST"},
		{name: "invalid UTF-8", body: []byte("{\"query\": \"{ user(username: \\\"\xff\xfe\\\") { id } }\"}"), status: 200},
		{name: "unknown persisted hash", body: []byte(`{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "` + hex.EncodeToString(unknownHash[:]) + `"}}}`), status: 200, code: "PERSISTED_QUERY_NOT_FOUND"},
		{name: "persisted hash of another document", body: []byte(`{"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "` + hex.EncodeToString(unknownHash[:]) + `"}}}`), status: 200, code: "BAD_REQUEST"},
		{name: "mutation over GET", method: http.MethodGet, headers: preflight, query: url.Values{"query": {`mutation { logout { sessionID } }`}}, status: 405, code: "BAD_REQUEST"},
		{name: "undecodable GET variables", method: http.MethodGet, headers: preflight, query: url.Values{"query": {`{ __typename }`}, "variables": {`{`}}, status: 400, code: "BAD_REQUEST"},
		{name: "10 MB body", body: gqlBody(`query($u: String!) { user(username: $u) { id } }`, map[string]any{"u": strings.Repeat("x", 10<<20)}), status: 413, code: "PAYLOAD_TOO_LARGE"},
		{name: "batch of 100", body: batchBody, status: 400, code: "BATCHING_DISABLED"},
		{name: "CSRF: text/plain POST", contentType: "text/plain", body: []byte(`{"query": "mutation { logout { sessionID } }"}`), status: 400, code: "CSRF_PREVENTED"},
		{name: "CSRF: form POST", contentType: "application/x-www-form-urlencoded", body: []byte(`query=mutation%20%7B%20logout%20%7B%20sessionID%20%7D%20%7D`), status: 400, code: "CSRF_PREVENTED"},
		{name: "CSRF: multipart POST", contentType: "multipart/form-data; boundary=x", body: []byte("--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{\"query\":\"{ __typename }\"}\r\n--x--\r\n"), status: 400, code: "CSRF_PREVENTED"},
		{name: "CSRF: simple GET", method: http.MethodGet, query: url.Values{"query": {`{ viewer { id } }`}}, status: 400, code: "CSRF_PREVENTED"},
		{name: "no content type", contentType: "-", body: typename, status: 400, code: "CSRF_PREVENTED"},
		{name: "XML", contentType: "application/xml", headers: preflight, body: []byte(`<query>{ __typename }</query>`), status: 415, code: "BAD_REQUEST"},
		{name: "introspection in production", production: true, body: gqlBody(`{ __schema { types { name } } }`, nil), status: 400, code: "INTROSPECTION_DISABLED"},
		{name: "introspection in a fragment, in production", production: true, body: gqlBody(`{ ...T } fragment T on Query { __type(name: "User") { name } }`, nil), status: 400, code: "INTROSPECTION_DISABLED"},
		{name: "field suggestions in production", production: true, body: gqlBody(`{ viewr { id } }`, nil), status: 400, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "full-text syntax in a search", body: gqlBody(search, map[string]any{"q": `NEAR(a b) {title body}: x* ) " OR OR - ^start AND`}), status: 200},
		{name: "a search of 10,000 characters", body: gqlBody(search, map[string]any{"q": strings.Repeat("word ", 2000)}), status: 200, code: "BAD_USER_INPUT"},
		{name: "CSRF: GET with a malformed text/plain", method: http.MethodGet, contentType: "text/plain; x", query: url.Values{"query": {`{ viewer { id } }`}}, status: 400, code: "CSRF_PREVENTED"},
	}
}

// TestHostileInput: each hostile request gets its status and code, without internal text.
func TestHostileInput(t *testing.T) {
	dev := newAPI(t, "sqlite")
	prod := startAPIWith(t, dev.db, nil, func(c *config.Config) { c.Introspection, c.FieldSuggestions, c.GraphiQL = false, false, false })
	for _, h := range hostileRequests() {
		t.Run(h.name, func(t *testing.T) {
			method := h.method
			if method == "" {
				method = http.MethodPost
			}
			a := dev
			if h.production {
				a = prod
			}
			target := a.URL
			if h.query != nil {
				target += "?" + h.query.Encode()
			}
			req, err := http.NewRequest(method, target, bytes.NewReader(h.body))
			if err != nil {
				t.Fatal(err)
			}
			switch h.contentType {
			case "":
				if method == http.MethodPost {
					req.Header.Set("Content-Type", "application/json")
				}
			case "-":
			default:
				req.Header.Set("Content-Type", h.contentType)
			}
			req.Header.Set("Accept", "application/graphql-response+json")
			for k, v := range h.headers {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var r struct {
				Errors []struct{ Extensions map[string]any }
			}
			_ = json.Unmarshal(body, &r)
			code := ""
			if len(r.Errors) > 0 {
				code, _ = r.Errors[0].Extensions["code"].(string)
			}
			if len(body) > 300 {
				body = append(body[:300], "…"...)
			}
			if res.StatusCode != h.status || code != h.code {
				t.Errorf("want %d %s, got %d %s: %s", h.status, h.code, res.StatusCode, code, body)
			}
			if strings.Contains(string(body), "Did you mean") && h.production {
				t.Errorf("a suggestion in production: %s", body)
			}
			if loc := leak.FindIndex(body); loc != nil {
				t.Errorf("the answer shows internal text %q", body[loc[0]:loc[1]])
			}
		})
	}
}
