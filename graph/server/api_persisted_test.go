package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agora/agora/graph/server"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

const (
	trustedProfile  = `query Profile($n: String!) { user(username: $n) { username } }`
	trustedTypename = `query Typename { __typename }`
	trustedComments = `subscription Comments($p: ID!) { commentAdded(postID: $p) { body } }`
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// writeManifest writes a manifest of the trusted documents in one of the formats clients emit.
func writeManifest(t *testing.T, format string) string {
	t.Helper()
	var v any
	switch format {
	case "apollo": // @apollo/generate-persisted-query-manifest
		var ops []map[string]any
		for _, op := range []struct{ name, kind, body string }{{"Profile", "query", trustedProfile},
			{"Typename", "query", trustedTypename}, {"Comments", "subscription", trustedComments}} {
			ops = append(ops, map[string]any{"id": sha256Hex(op.body), "name": op.name, "type": op.kind, "body": op.body})
		}
		v = map[string]any{"format": "apollo-persisted-query-manifest", "version": 1, "operations": ops}
	case "codegen": // GraphQL Code Generator's client preset: persisted-documents.json
		v = map[string]string{sha256Hex(trustedProfile): trustedProfile, sha256Hex(trustedTypename): trustedTypename,
			sha256Hex(trustedComments): trustedComments}
	}
	b, _ := json.Marshal(v)
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPersistedTrustedDocuments: with AGORA_TRUSTED_DOCUMENTS only the manifest's operations run —
// by documentId, by Apollo's persistedQuery hash, or by their text — over POST, GET and WebSocket;
// anything else is refused with 400 and OPERATION_NOT_TRUSTED or PERSISTED_QUERY_NOT_FOUND, and
// automatic persisted queries cannot register a document.
func TestPersistedTrustedDocuments(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"apollo", "codegen"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			manifest := writeManifest(t, format)
			a := sqliteAPI(t, func(c *config.Config) { c.GraphQL.TrustedDocuments = manifest })
			if _, err := a.accounts.Register(t.Context(), account.RegisterInput{Username: "ada", Email: "ada@example.com", Password: "password-ada"}); err != nil {
				t.Fatal(err)
			}
			post := func(body map[string]any) (*http.Response, []byte) {
				b, _ := json.Marshal(body)
				return send(t, http.MethodPost, a.URL, string(b), jsonHeaders)
			}
			vars := map[string]any{"n": "ada"}
			wantAda := func(what string, res *http.Response, body []byte) {
				t.Helper()
				if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"username":"ada"`) || strings.Contains(string(body), `"errors"`) {
					t.Errorf("%s: want ada's profile, got %d %s", what, res.StatusCode, body)
				}
			}
			id := sha256Hex(trustedProfile)
			apq := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": id}}

			res, body := post(map[string]any{"documentId": id, "variables": vars})
			wantAda("documentId", res, body)
			res, body = post(map[string]any{"extensions": apq, "variables": vars})
			wantAda("persistedQuery hash", res, body)
			res, body = post(map[string]any{"query": trustedProfile, "variables": vars})
			wantAda("trusted text", res, body)
			res, body = send(t, http.MethodGet, a.URL+"?"+url.Values{"documentId": {id}, "variables": {`{"n":"ada"}`}}.Encode(), "",
				map[string]string{"Apollo-Require-Preflight": "true"})
			wantAda("GET documentId", res, body)
			ext, _ := json.Marshal(apq)
			res, body = send(t, http.MethodGet, a.URL+"?"+url.Values{"extensions": {string(ext)}, "variables": {`{"n":"ada"}`}}.Encode(), "",
				map[string]string{"Apollo-Require-Preflight": "true"})
			wantAda("GET persistedQuery hash", res, body)

			// gqlgen reads JSON keys without regard to case: a second "Query" must not slip through.
			res, body = send(t, http.MethodPost, a.URL, `{"query":`+jsonString(trustedProfile)+`,"QUERY":"{ viewer { id } }","variables":{"n":"ada"}}`, jsonHeaders)
			wantAda("smuggled second query", res, body)

			const untrusted = `{ users(first: 1) { totalCount } }`
			res, body = post(map[string]any{"query": untrusted})
			wantRefusal(t, "text not in the manifest", res, body, http.StatusBadRequest, "OPERATION_NOT_TRUSTED")
			res, body = send(t, http.MethodGet, a.URL+"?"+url.Values{"query": {untrusted}}.Encode(), "", map[string]string{"Apollo-Require-Preflight": "true"})
			wantRefusal(t, "GET text not in the manifest", res, body, http.StatusBadRequest, "OPERATION_NOT_TRUSTED")
			res, body = post(map[string]any{"documentId": sha256Hex(untrusted)})
			wantRefusal(t, "unknown documentId", res, body, http.StatusBadRequest, "PERSISTED_QUERY_NOT_FOUND")
			res, body = post(map[string]any{})
			wantRefusal(t, "nothing to run", res, body, http.StatusBadRequest, "OPERATION_NOT_TRUSTED")

			// APQ registration is off: the text with its hash is refused, and the hash stays unknown.
			reg := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(untrusted)}}
			res, body = post(map[string]any{"query": untrusted, "extensions": reg})
			wantRefusal(t, "APQ registration", res, body, http.StatusBadRequest, "OPERATION_NOT_TRUSTED")
			res, body = post(map[string]any{"extensions": reg})
			wantRefusal(t, "after the registration", res, body, http.StatusBadRequest, "PERSISTED_QUERY_NOT_FOUND")

			// WebSocket operations are held to the manifest too.
			ws := a.GraphQL.Subscribe(t, testenv.TransportWS, `subscription { notificationAdded { kind } }`, nil)
			if r, _ := ws.Next(t, 10*time.Second); len(r.Errors) != 1 || r.Errors[0].Code() != "OPERATION_NOT_TRUSTED" {
				t.Errorf("untrusted subscription: want OPERATION_NOT_TRUSTED, got %+v", r)
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestPersistedTrustedDocumentsManifest: a manifest that cannot be read stops Agora from
// starting instead of letting everything through.
func TestPersistedTrustedDocumentsManifest(t *testing.T) {
	t.Parallel()
	db := openDB(t, database.Options{SQLitePath: t.TempDir() + "/agora.db"})
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty.json":   `{}`,
		"broken.json":  `{"format":"apollo-persisted-query-manifest"`,
		"version.json": `{"format":"apollo-persisted-query-manifest","version":2,"operations":[]}`,
		"missing.json": "",
	} {
		path := filepath.Join(dir, name)
		if content != "" {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cfg := testConfig()
		cfg.GraphQL.TrustedDocuments = path
		if _, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), db, nil, nil); err == nil ||
			!strings.Contains(err.Error(), "AGORA_TRUSTED_DOCUMENTS") {
			t.Errorf("%s: want an error naming AGORA_TRUSTED_DOCUMENTS, got %v", name, err)
		}
	}
}
