package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

const apqQuery = `query Profile($n: String!) { user(username: $n) { username followerCount } }`

func apqExtensions() string {
	sum := sha256.Sum256([]byte(apqQuery))
	return `{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}`
}

// apqPost sends the hash, and the query text when withQuery, the way Apollo Client does.
func apqPost(t *testing.T, a *api, withQuery bool) testenv.Response {
	t.Helper()
	body := map[string]any{"extensions": json.RawMessage(apqExtensions()), "variables": map[string]any{"n": "ada"}}
	if withQuery {
		body["query"] = apqQuery
	}
	b, _ := json.Marshal(body)
	res, err := http.Post(a.URL, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, res)
}

// apqGet asks by hash alone over GET: a URL a CDN can cache.
func apqGet(t *testing.T, a *api) testenv.Response {
	t.Helper()
	q := url.Values{"extensions": {apqExtensions()}, "variables": {`{"n":"ada"}`}, "operationName": {"Profile"}}
	req, _ := http.NewRequest(http.MethodGet, a.URL+"?"+q.Encode(), nil)
	req.Header.Set("Apollo-Require-Preflight", "true")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, res)
}

func decode(t *testing.T, res *http.Response) testenv.Response {
	t.Helper()
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r testenv.Response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	return r
}

func wantProfile(t *testing.T, r testenv.Response) {
	t.Helper()
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"username":"ada"`) {
		t.Fatalf("want ada's profile, got errors %+v data %s", r.Errors, r.Data)
	}
}

func TestPersistedQueries(t *testing.T) {
	a := newAPI(t, "sqlite")
	a.register(t, "ada")
	if r := apqPost(t, a, false); len(r.Errors) != 1 || r.Errors[0].Code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %+v", r.Errors)
	}
	wantProfile(t, apqPost(t, a, true))
	wantProfile(t, apqPost(t, a, false))
	wantProfile(t, apqGet(t, a))
}

// TestPersistedQueriesAcrossReplicas: a query registered on one replica runs by hash on another
// when they share Redis.
func TestPersistedQueriesAcrossReplicas(t *testing.T) {
	rdb := newRedis(t)
	pg := testenv.PostgresURL(t)
	first := openDB(t, database.Options{PostgresURL: pg})
	if _, err := first.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, first, rdb)
	b := startAPI(t, openDB(t, database.Options{PostgresURL: pg}), rdb)
	a.register(t, "ada")
	wantProfile(t, apqPost(t, a, true))
	wantProfile(t, apqGet(t, b))
}

// TestCacheControl: with AGORA_PUBLIC_MAX_AGE set, CDNs may keep anonymous GET answers without
// errors, and nothing else; by default nothing.
func TestCacheControl(t *testing.T) {
	db := openDB(t, database.Options{SQLitePath: t.TempDir() + "/agora.db"})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPIWith(t, db, nil, func(c *config.Config) { c.HTTP.PublicMaxAge = 30 * time.Second })
	ada := a.register(t, "ada")
	get := func(endpoint, query, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, endpoint+"?"+url.Values{"query": {query}}.Encode(), nil)
		req.Header.Set("X-Apollo-Operation-Name", "Posts")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	const posts = `{ posts(first: 1) { totalCount } }`
	for _, tc := range []struct {
		name, endpoint, query, token, want string
	}{
		{"anonymous", a.URL, posts, "", "public, max-age=30"},
		{"signed in", a.URL, posts, ada.Token, "no-store"},
		{"with errors", a.URL, `{ posts(first: 1000) { totalCount } }`, "", "no-store"},
		{"invalid", a.URL, `{ nope }`, "", "no-store"},
		{"anonymous, by default", newAPI(t, "sqlite").URL, posts, "", "no-store"},
	} {
		res := get(tc.endpoint, tc.query, tc.token)
		if got := res.Header.Get("Cache-Control"); got != tc.want {
			t.Errorf("%s: Cache-Control %q, want %q", tc.name, got, tc.want)
		}
		if got := strings.Join(res.Header.Values("Vary"), ", "); !strings.Contains(got, "Authorization") {
			t.Errorf("%s: Vary %q, want Authorization in it", tc.name, got)
		}
	}
}
