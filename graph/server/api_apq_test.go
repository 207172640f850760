package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
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

// apqSend sends query by its hash, with its text when withQuery, as Apollo Client does.
func apqSend(t *testing.T, a *api, query string, withQuery bool) testenv.Response {
	t.Helper()
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	if withQuery {
		return a.PostExtensions(t, query, nil, ext)
	}
	return a.PostExtensions(t, "", nil, ext)
}

// TestPersistedQueryRegistration: automatic persisted queries register only documents that
// parse, validate and pass the operation limits, of at most AGORA_APQ_MAX_BYTES, at most
// AGORA_APQ_REGISTER_LIMIT per caller; Redis keeps them for AGORA_APQ_TTL. A document that is
// not registered still runs (or is refused) as if sent without a hash.
func TestPersistedQueryRegistration(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	a := newLimitedAPI(t, rdb, func(c *config.Config) { c.Channels.APQRegister = config.Budget{Burst: 4, Per: time.Hour} })
	stored := func(query string) bool {
		sum := sha256.Sum256([]byte(query))
		n, err := rdb.Exists(t.Context(), "agora:apq:"+hex.EncodeToString(sum[:])).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	deep := "{ posts(first: 1) { edges { node { author { posts(first: 1) { edges { node { author { posts(first: 1) { edges { node { author { username } } } } } } } } } } } } }"
	for _, c := range []struct{ name, query, code string }{
		{"unparsable", "{ posts(first: 1) { totalCount ", "GRAPHQL_PARSE_FAILED"},
		{"invalid", "{ nope }", "GRAPHQL_VALIDATION_FAILED"},
		{"too deep", deep, "OPERATION_LIMIT"},
		{"too costly", "{ posts(first: 100) { edges { node { comments(first: 100) { edges { node { post { comments(first: 100) { totalCount } } } } } } } } }", "OPERATION_LIMIT"},
	} {
		if r := apqSend(t, a, c.query, true); len(r.Errors) != 1 || r.Errors[0].Code() != c.code {
			t.Fatalf("%s, sent with its hash: %+v, want %s", c.name, r.Errors, c.code)
		}
		if r := apqSend(t, a, c.query, false); len(r.Errors) != 1 || r.Errors[0].Code() != "PERSISTED_QUERY_NOT_FOUND" {
			t.Fatalf("%s was registered: by hash it answers %+v", c.name, r.Errors)
		}
		if stored(c.query) {
			t.Fatalf("%s is in Redis", c.name)
		}
	}

	// Over 64 KiB (here a comment pads it): runs, is not kept.
	big := "{ posts(first: 1) { totalCount } }\n#" + strings.Repeat("x", 64<<10)
	if r := apqSend(t, a, big, true); len(r.Errors) > 0 || !strings.Contains(string(r.Data), "totalCount") {
		t.Fatalf("a document over the size cap, sent with its text: %+v %s", r.Errors, r.Data)
	}
	if r := apqSend(t, a, big, false); len(r.Errors) != 1 || r.Errors[0].Code() != "PERSISTED_QUERY_NOT_FOUND" || stored(big) {
		t.Fatalf("a document over the size cap was registered: %+v", r.Errors)
	}

	// Within every bound: registered, in Redis for 24 hours.
	const ok = "{ posts(first: 2) { totalCount } }"
	if r := apqSend(t, a, ok, true); len(r.Errors) > 0 {
		t.Fatalf("%+v", r.Errors)
	}
	if r := apqSend(t, a, ok, false); len(r.Errors) > 0 || !strings.Contains(string(r.Data), "totalCount") {
		t.Fatalf("a registered document by its hash: %+v %s", r.Errors, r.Data)
	}
	sum := sha256.Sum256([]byte(ok))
	if ttl, err := rdb.TTL(t.Context(), "agora:apq:"+hex.EncodeToString(sum[:])).Result(); err != nil || ttl > 24*time.Hour || ttl < 23*time.Hour {
		t.Fatalf("TTL in Redis %v (%v), want 24h", ttl, err)
	}

	// The caller's registration budget (4 per hour here): the fifth new document runs unregistered.
	for i := range 4 {
		q := "{ posts(first: " + strconv.Itoa(3+i) + ") { totalCount } }"
		if r := apqSend(t, a, q, true); len(r.Errors) > 0 {
			t.Fatalf("%+v", r.Errors)
		}
		if registered := stored(q); registered != (i < 3) { // the first of the 4 was ok
			t.Fatalf("document %d registered: %t", i+2, registered)
		}
	}
}
