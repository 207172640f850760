package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
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
	const filter = `query($w: PostFilter) { posts(first: 20, where: $w) { totalCount } }`
	// Edge predicates nested n levels deep (posts → comments → post → …), ending in a text search.
	edges := func(n int) string {
		s := `bodyContainsFold: "x"`
		for i := range n {
			if i%2 == 0 {
				s = `hasPostWith: [{` + s + `}]`
			} else {
				s = `hasCommentsWith: [{` + s + `}]`
			}
		}
		if n%2 == 1 {
			s = `hasCommentsWith: [{` + s + `}]`
		}
		return s
	}
	aliased := func(where string) string {
		return "{ " + repeat(20, func(i int) string { return fmt.Sprintf("a%d: posts(where: {%s}) { totalCount } ", i, where) }) + "}"
	}
	tags := make([]any, 2000)
	for i := range tags {
		tags[i] = fmt.Sprintf("w%d", i)
	}
	moreTags := slices.Repeat(tags, 15) // 30,000 names, about 200 KB
	// The old where-inputs nested without end (not: {not: …}); the filters do not, so a deep
	// value is refused whatever the field, before its type is even looked at.
	var not any = map[string]any{"tags": []any{"x"}}
	for range 5000 {
		not = map[string]any{"not": not}
	}
	ids := make([]any, 1001)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	const entities = `query($r: [_Any!]!) { _entities(representations: $r) { __typename } }`
	entity := func(rep map[string]any) []byte { return gqlBody(entities, map[string]any{"r": []any{rep}}) }
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
		{name: "repeated fields for quadratic validation (165 KB)", body: gqlBody("{ posts(first: 1) { totalCount "+strings.Repeat("__typename ", 14_980)+"} }", nil), status: 400, code: "OPERATION_LIMIT"},
		{name: "fields against fragments for cubic validation", body: gqlBody("{ "+strings.Repeat("viewer { id ...F } ", 300)+"} fragment F on User { "+strings.Repeat("id ", 300)+"}", nil), status: 400, code: "OPERATION_LIMIT"},
		// Edge predicates are no part of the filters any more: the attack fails validation.
		{name: "edge predicates nested 6 deep under 20 aliases (5 KB)", body: gqlBody(aliased(edges(6)), nil), status: 400, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "a 45 KB filter string", body: gqlBody(`{ posts(where: {authorUsername: "`+strings.Repeat("x", 45_000)+`"}) { totalCount } }`, nil), status: 200, code: "BAD_USER_INPUT"},
		{name: "a 900 KB filter string in a variable", body: gqlBody(filter, map[string]any{"w": map[string]any{"authorUsername": strings.Repeat("x", 900_000)}}), status: 200, code: "BAD_USER_INPUT"},
		{name: "2,000 tags in a filter variable", body: gqlBody(filter, map[string]any{"w": map[string]any{"tags": tags}}), status: 200, code: "BAD_USER_INPUT"},
		{name: "30,000 tags in a filter variable", body: gqlBody(filter, map[string]any{"w": map[string]any{"tags": moreTags}}), status: 200, code: "BAD_USER_INPUT"},
		{name: "5,000 nested not in a variable", body: gqlBody(filter, map[string]any{"w": not}), status: 400, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "1,001 IDs", body: gqlBody(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids}), status: 200, code: "BAD_USER_INPUT"},
		{name: "a NUL character in a variable", body: gqlBody(`query($u: String!) { user(username: $u) { id } }`, map[string]any{"u": "ada\x00"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "invalid UTF-8 in a GET document's string", method: http.MethodGet, headers: preflight, query: url.Values{"query": {"{ user(username: \"ada\xff\") { id } }"}}, status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities of a Session", body: entity(map[string]any{"__typename": "Session", "id": "1"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities of a RefreshToken", body: entity(map[string]any{"__typename": "RefreshToken", "id": "1"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities of a Message", body: entity(map[string]any{"__typename": "Message", "id": "1"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities of a Conversation", body: entity(map[string]any{"__typename": "Conversation", "id": "1"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities of a Notification", body: entity(map[string]any{"__typename": "Notification", "id": "1"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities of a Like", body: entity(map[string]any{"__typename": "Like", "id": "1"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities of an unknown type", body: entity(map[string]any{"__typename": "Nope", "id": "1"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities without __typename", body: entity(map[string]any{"id": "1"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities without its key", body: entity(map[string]any{"__typename": "Post"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "_entities with a malformed ID", body: entity(map[string]any{"__typename": "Post", "id": "x"}), status: 200, code: "BAD_USER_INPUT"},
		{name: "CSRF: GET with a malformed text/plain", method: http.MethodGet, contentType: "text/plain; x", query: url.Values{"query": {`{ viewer { id } }`}}, status: 400, code: "CSRF_PREVENTED"},
	}
}

// TestHostileInput: each hostile request gets its status and code, without internal text.
func TestHostileInput(t *testing.T) {
	dev := newAPI(t, "sqlite")
	prod := startAPIWith(t, dev.db, nil, func(c *config.Config) {
		c.GraphQL.Introspection, c.GraphQL.FieldSuggestions, c.GraphQL.GraphiQL = false, false, false
	})
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

// lockedBuffer is a log sink shared by a server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTextHygiene: a NUL character in any text a client sends — sign-up and sign-in, filters,
// posts, tags, comments, profile, messages, search — is refused before anything runs, with
// BAD_USER_INPUT and the input named, by one check of every argument against its type; nothing
// is written and nothing reaches the database or the error log.
func TestTextHygiene(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")}
			if dialect == "postgres" {
				o = database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10}
			}
			db := openDB(t, o)
			if _, err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			var log lockedBuffer
			a := serveApp(t, testConfig(), slog.New(slog.NewTextHandler(&log, nil)), db, nil, nil)
			ada, bob := a.register(t, "ada"), a.register(t, "bob")
			p := a.createPost(t, ada, map[string]any{"title": "Hello", "publish": true})
			const nul = "bad\x00text"
			cases := []struct {
				name, query string
				vars        map[string]any
				field       string
				anonymous   bool
			}{
				{"register", registerMutation, map[string]any{"in": map[string]any{"username": "eve\x00", "email": "eve@example.com", "password": "password-eve"}}, "username", true},
				{"login", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`, map[string]any{"in": map[string]any{"usernameOrEmail": "ada\x00", "password": "password-ada"}}, "usernameOrEmail", true},
				{"filter", `query($t: String) { posts(first: 5, where: {authorUsername: $t}) { totalCount } }`, map[string]any{"t": nul}, "where.authorUsername", true},
				{"filter literal in a list", `{ posts(first: 5, where: {tags: ["a", "bad\u0000"]}) { totalCount } }`, nil, "where.tags[1]", true},
				{"post title", createPostMutation, map[string]any{"in": map[string]any{"title": nul}}, "title", false},
				{"post body", createPostMutation, map[string]any{"in": map[string]any{"title": "T", "body": nul}}, "body", false},
				{"post tag", createPostMutation, map[string]any{"in": map[string]any{"title": "T", "tags": []any{"go", nul}}}, "tags[1]", false},
				{"post update", `mutation($in: UpdatePostInput!) { updatePost(input: $in) { post { id } } }`, map[string]any{"in": map[string]any{"id": p.ID, "description": nul}}, "description", false},
				{"comment", addCommentMutation, map[string]any{"in": map[string]any{"postID": p.ID, "body": nul}}, "body", false},
				{"profile", `mutation($in: UpdateProfileInput!) { updateProfile(input: $in) { user { bio } } }`, map[string]any{"in": map[string]any{"bio": nul}}, "bio", false},
				{"message", `mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }`, map[string]any{"in": map[string]any{"recipientID": bob.ID, "body": nul}}, "body", false},
				{"search", `query($q: String!) { search(query: $q, first: 5) { totalCount } }`, map[string]any{"q": nul}, "query", true},
				{"lookup", `query($u: String!) { user(username: $u) { id } }`, map[string]any{"u": "ada\x00"}, "username", true},
			}
			tables := []string{"users", "posts", "tags", "comments", "messages", "sessions"}
			counts := func() []int {
				var n []int
				for _, table := range tables {
					n = append(n, a.count(t, table))
				}
				return n
			}
			before := counts()
			for _, tc := range cases {
				c := a.as(ada)
				if tc.anonymous {
					c = a.GraphQL
				}
				c.Fail(t, "BAD_USER_INPUT", tc.field, tc.query, tc.vars)
			}
			if after := counts(); !slices.Equal(before, after) {
				t.Errorf("rows of %v: %v before, %v after", tables, before, after)
			}
			if strings.Contains(log.String(), "level=ERROR") {
				t.Errorf("the refusals were logged as errors:\n%s", log.String())
			}
		})
	}
}

// TestTokenIssuedInTheFuture: an access token whose iat is in the future (beyond the clock skew)
// is refused with 401, though it is signed with the key and names a live session: Agora never
// issues one, so it was minted elsewhere or by a clock that cannot be trusted.
func TestTokenIssuedInTheFuture(t *testing.T) {
	a := newAPI(t, "sqlite")
	ada := a.register(t, "ada")
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(ada.Token, &c); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	key := sha256.Sum256([]byte(cfg.Auth.JWTSecret))
	mint := func(iat time.Time) string {
		claims := jwt.MapClaims{}
		for k, v := range c {
			claims[k] = v
		}
		claims["iat"] = iat.Unix()
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tok.Header["kid"] = hex.EncodeToString(key[:6])
		s, err := tok.SignedString([]byte(cfg.Auth.JWTSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const viewer = `{ viewer { username } }`
	if r := a.GraphQL.As(mint(time.Now())).Post(t, viewer, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Data), "ada") {
		t.Fatalf("a token minted as Agora does: want ada, got %d %s %+v", r.Status, r.Data, r.Errors)
	}
	r := a.GraphQL.As(mint(time.Now().AddDate(1, 0, 0))).Post(t, viewer, nil)
	if r.Status != http.StatusUnauthorized || len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
		t.Errorf("a token issued a year ahead: want 401 UNAUTHENTICATED, got %d %s %+v", r.Status, r.Data, r.Errors)
	}
}

// TestNestedBadArguments: a malformed cursor on a nested connection, as a literal or a variable,
// is BAD_USER_INPUT at that field, for each parent, and the list around it is answered. Field
// collection used to assert it to a cursor in the parent's eager load and panic: the whole list
// failed as an internal error, with a stack trace in the log.
func TestNestedBadArguments(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	ada := a.register(t, "ada")
	p := a.createPost(t, ada, map[string]any{"title": "Cursors", "publish": true, "tags": []string{"go"}})
	a.comment(t, ada, p, "one")
	for _, c := range []struct {
		query string
		vars  map[string]any
		field string
	}{
		{`{ posts(first: 5) { edges { node { id comments(first: 1, after: "garbage") { totalCount } } } } }`, nil, "after"},
		{`query($c: Cursor) { posts(first: 5) { edges { node { id comments(first: 1, before: $c) { totalCount } } } } }`, map[string]any{"c": "garbage"}, "before"},
		{`{ tags(first: 5) { edges { node { name posts(first: 1, after: "x") { totalCount } } } } }`, nil, "after"},
		{`{ user(username: "ada") { username posts(first: 1, after: "x") { totalCount } } }`, nil, "after"},
	} {
		r := a.Post(t, c.query, c.vars)
		if len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" || r.Errors[0].Field() != c.field || string(r.Data) == "null" {
			t.Errorf("%s: %s %+v, want BAD_USER_INPUT on %s and the rest answered", c.query, r.Data, r.Errors, c.field)
		}
	}
}
