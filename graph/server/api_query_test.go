package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/agora/agora/internal/testenv"
)

// mustData sends a query that must succeed and returns its data exactly as the server wrote it, to
// tell null from absent.
func rawData(t *testing.T, c testenv.GraphQL, query string, vars map[string]any) string {
	t.Helper()
	r := c.Post(t, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v\nquery: %s", r.Errors, query)
	}
	return string(r.Data)
}

func TestViewer(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		a.register(t, "bob")
		const q = `{ viewer { id username email } }`
		if got := rawData(t, a.GraphQL, q, nil); got != `{"viewer":null}` {
			t.Errorf("signed out: want viewer null, got %s", got)
		}
		var out struct {
			Viewer *struct{ ID, Username, Email string }
		}
		a.as(ada).Do(t, q, nil, &out)
		if out.Viewer == nil || out.Viewer.ID != ada.ID || out.Viewer.Username != "ada" || out.Viewer.Email != "ada@example.com" {
			t.Errorf("signed in as ada: got %+v", out.Viewer)
		}
	})
}

func TestUserByUsername(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		const q = `query($u: String!) { user(username: $u) { id username } }`
		for _, tc := range []struct{ username, wantID string }{
			{"ada", ada.ID},
			{"ADA", ada.ID},
			{"Ada", ada.ID},
			{"BoB", bob.ID},
		} {
			var out struct {
				User *struct{ ID, Username string }
			}
			a.Do(t, q, map[string]any{"u": tc.username}, &out)
			if out.User == nil || out.User.ID != tc.wantID || out.User.Username != strings.ToLower(tc.username) {
				t.Errorf("user(%q): want id %s, got %+v", tc.username, tc.wantID, out.User)
			}
		}
		for _, unknown := range []string{"nobody", "ad", ""} {
			if got := rawData(t, a.GraphQL, q, map[string]any{"u": unknown}); got != `{"user":null}` {
				t.Errorf("user(%q): want null, got %s", unknown, got)
			}
		}
	})
}

func TestUserEmail(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		for _, tc := range []struct {
			name   string
			client testenv.GraphQL
			want   map[string]*string // username → email seen
		}{
			{"ada", a.as(ada), map[string]*string{"ada": ptrTo("ada@example.com"), "bob": nil}},
			{"bob", a.as(bob), map[string]*string{"ada": nil, "bob": ptrTo("bob@example.com")}},
			{"anonymous", a.GraphQL, map[string]*string{"ada": nil, "bob": nil}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for username, want := range tc.want {
					var out struct{ User struct{ Email *string } }
					tc.client.Do(t, `query($u: String!) { user(username: $u) { email } }`, map[string]any{"u": username}, &out)
					if !equalPtr(out.User.Email, want) {
						t.Errorf("user(%s).email: want %v, got %v", username, orNull(want), orNull(out.User.Email))
					}
				}
				// The same rule through a connection.
				var list struct {
					Users struct {
						Edges []struct {
							Node struct {
								Username string
								Email    *string
							}
						}
					}
				}
				tc.client.Do(t, `{ users(first: 10) { edges { node { username email } } } }`, nil, &list)
				if len(list.Users.Edges) != 2 {
					t.Fatalf("users: want 2, got %+v", list.Users.Edges)
				}
				for _, e := range list.Users.Edges {
					if want := tc.want[e.Node.Username]; !equalPtr(e.Node.Email, want) {
						t.Errorf("users/%s.email: want %v, got %v", e.Node.Username, orNull(want), orNull(e.Node.Email))
					}
				}
			})
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

func equalPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func orNull(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

type nodeResult struct {
	Typename string `json:"__typename"`
	ID       string
	Username string
	Title    string
	Name     string
	Body     string
}

const nodeFields = `__typename id ... on User { username } ... on Post { title } ... on Tag { name } ... on Comment { body }`

func TestNode(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		p := a.createPost(t, ada, map[string]any{"title": "Hello", "tags": []string{"Go"}, "publish": true})
		draft := a.createPost(t, bob, map[string]any{"title": "Bob's draft"})
		var tags struct {
			Tags struct {
				Edges []struct{ Node struct{ ID, Name string } }
			}
		}
		a.Do(t, `{ tags(first: 10) { edges { node { id name } } } }`, nil, &tags)
		if len(tags.Tags.Edges) != 1 || tags.Tags.Edges[0].Node.Name != "go" {
			t.Fatalf("tags: want [go], got %+v", tags.Tags.Edges)
		}
		tagID := tags.Tags.Edges[0].Node.ID
		var c struct {
			AddComment struct{ Comment struct{ ID string } }
		}
		a.as(bob).Do(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "Nice"}) { comment { id } } }`,
			map[string]any{"id": p.ID}, &c)
		commentID := c.AddComment.Comment.ID

		want := []nodeResult{
			{Typename: "User", ID: ada.ID, Username: "ada"},
			{Typename: "Post", ID: p.ID, Title: "Hello"},
			{Typename: "Tag", ID: tagID, Name: "go"},
			{Typename: "Comment", ID: commentID, Body: "Nice"},
		}
		seen := map[string]bool{}
		for _, w := range want {
			if seen[w.ID] {
				t.Errorf("ID %s is used by two types", w.ID)
			}
			seen[w.ID] = true
			var out struct{ Node *nodeResult }
			a.Do(t, `query($id: ID!) { node(id: $id) { `+nodeFields+` } }`, map[string]any{"id": w.ID}, &out)
			if out.Node == nil || *out.Node != w {
				t.Errorf("node(%s): want %+v, got %+v", w.ID, w, out.Node)
			}
		}

		// Nothing there, or nothing the viewer may see: null, not an error.
		for _, tc := range []struct {
			name   string
			client testenv.GraphQL
			id     string
		}{
			{"unused user ID", a.GraphQL, unusedID(t, bob.ID, 1000)},
			{"unused post ID", a.GraphQL, unusedID(t, draft.ID, 1000)},
			{"ID in no type's range", a.GraphQL, "999999999999999"},
			{"another user's draft", a.as(ada), draft.ID},
			{"a draft, signed out", a.GraphQL, draft.ID},
		} {
			got := rawData(t, tc.client, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": tc.id})
			if got != `{"node":null}` {
				t.Errorf("%s: want node null, got %s", tc.name, got)
			}
		}
		var own struct{ Node *nodeResult }
		a.as(bob).Do(t, `query($id: ID!) { node(id: $id) { `+nodeFields+` } }`, map[string]any{"id": draft.ID}, &own)
		if own.Node == nil || own.Node.Title != "Bob's draft" {
			t.Errorf("bob's own draft: got %+v", own.Node)
		}

		// nodes answers in the order asked, whatever the types.
		ids := []string{commentID, p.ID, ada.ID, tagID, bob.ID}
		var out struct{ Nodes []*nodeResult }
		a.Do(t, `query($ids: [ID!]!) { nodes(ids: $ids) { `+nodeFields+` } }`, map[string]any{"ids": ids}, &out)
		wantNodes := []nodeResult{want[3], want[1], want[0], want[2], {Typename: "User", ID: bob.ID, Username: "bob"}}
		if len(out.Nodes) != len(wantNodes) {
			t.Fatalf("nodes: want %d, got %+v", len(wantNodes), out.Nodes)
		}
		for i, w := range wantNodes {
			if out.Nodes[i] == nil || *out.Nodes[i] != w {
				t.Errorf("nodes[%d]: want %+v, got %+v", i, w, out.Nodes[i])
			}
		}

		// A missing ID among others: null in its place, and not an internal error.
		r := a.Post(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
			map[string]any{"ids": []string{ada.ID, unusedID(t, bob.ID, 1000)}})
		if got, want := string(r.Data), `{"nodes":[{"id":"`+ada.ID+`"},null]}`; got != want {
			t.Errorf("nodes with a missing ID: want %s, got %s", want, got)
		}
		for _, e := range r.Errors {
			if e.Code() != "NOT_FOUND" {
				t.Errorf("nodes with a missing ID: want NOT_FOUND errors only, got %s %q", e.Code(), e.Message)
			}
		}
	})
}

type postPage struct {
	Posts struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
		Edges []struct {
			Cursor string
			Node   struct{ ID, Title string }
		}
	}
}

func (p postPage) titles() []string {
	s := []string{}
	for _, e := range p.Posts.Edges {
		s = append(s, e.Node.Title)
	}
	return s
}

func TestPagination(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		for _, title := range []string{"P1", "P2", "P3", "P4", "P5"} {
			a.createPost(t, ada, map[string]any{"title": title, "publish": true})
		}
		a.createPost(t, bob, map[string]any{"title": "Bob's draft"}) // not visible to the anonymous reader
		newestFirst := []string{"P5", "P4", "P3", "P2", "P1"}
		const fields = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id title } }`

		t.Run("forward", func(t *testing.T) {
			var all []string
			var after any
			wantPages := [][]string{{"P5", "P4"}, {"P3", "P2"}, {"P1"}}
			for i := 0; ; i++ {
				if i == len(wantPages) {
					t.Fatalf("more than %d pages: got %v so far", len(wantPages), all)
				}
				var out postPage
				a.Do(t, `query($after: Cursor) { posts(first: 2, after: $after) { `+fields+` } }`, map[string]any{"after": after}, &out)
				got := out.Posts
				if got.TotalCount != 5 {
					t.Errorf("page %d: totalCount %d, want 5", i, got.TotalCount)
				}
				if !slices.Equal(out.titles(), wantPages[i]) {
					t.Errorf("page %d: want %v, got %v", i, wantPages[i], out.titles())
				}
				if n := len(got.Edges); n == 0 || got.PageInfo.EndCursor == nil || *got.PageInfo.EndCursor != got.Edges[n-1].Cursor ||
					got.PageInfo.StartCursor == nil || *got.PageInfo.StartCursor != got.Edges[0].Cursor {
					t.Fatalf("page %d: start/end cursors do not match the edges: %+v", i, got)
				}
				if got.PageInfo.HasPreviousPage != (i > 0) {
					t.Errorf("page %d: hasPreviousPage %v", i, got.PageInfo.HasPreviousPage)
				}
				all = append(all, out.titles()...)
				if !got.PageInfo.HasNextPage {
					break
				}
				after = *got.PageInfo.EndCursor
			}
			if !slices.Equal(all, newestFirst) {
				t.Errorf("all pages: want %v once each, got %v", newestFirst, all)
			}
		})

		t.Run("backward", func(t *testing.T) {
			var all []string
			var before any
			wantPages := [][]string{{"P2", "P1"}, {"P4", "P3"}, {"P5"}}
			for i := 0; ; i++ {
				if i == len(wantPages) {
					t.Fatalf("more than %d pages: got %v so far", len(wantPages), all)
				}
				var out postPage
				a.Do(t, `query($before: Cursor) { posts(last: 2, before: $before) { `+fields+` } }`, map[string]any{"before": before}, &out)
				got := out.Posts
				if got.TotalCount != 5 {
					t.Errorf("page %d: totalCount %d, want 5", i, got.TotalCount)
				}
				if !slices.Equal(out.titles(), wantPages[i]) {
					t.Errorf("page %d: want %v, got %v", i, wantPages[i], out.titles())
				}
				if got.PageInfo.HasNextPage != (i > 0) {
					t.Errorf("page %d: hasNextPage %v", i, got.PageInfo.HasNextPage)
				}
				all = append(out.titles(), all...)
				if !got.PageInfo.HasPreviousPage {
					break
				}
				if got.PageInfo.StartCursor == nil {
					t.Fatalf("page %d: hasPreviousPage without startCursor", i)
				}
				before = *got.PageInfo.StartCursor
			}
			if !slices.Equal(all, newestFirst) {
				t.Errorf("all pages: want %v once each, got %v", newestFirst, all)
			}
		})

		// after and before bound the list in its order whichever of first and last takes the page
		// (the Relay connection spec's algorithm): before with first, after with last, and both.
		t.Run("cursors with either end", func(t *testing.T) {
			for _, order := range []struct {
				arg  string
				list []string
			}{
				{"", newestFirst},
				{`, orderBy: {field: TITLE, direction: ASC}`, []string{"P1", "P2", "P3", "P4", "P5"}},
			} {
				var all postPage
				a.Do(t, `{ posts(first: 5`+order.arg+`) { `+fields+` } }`, nil, &all)
				cursor := map[string]string{}
				for _, e := range all.Posts.Edges {
					cursor[e.Node.Title] = e.Cursor
				}
				l := order.list
				for _, tc := range []struct {
					args string
					want []string
				}{
					{`first: 2, before: "` + cursor[l[3]] + `"`, l[:2]},
					{`last: 2, before: "` + cursor[l[3]] + `"`, l[1:3]},
					{`first: 2, after: "` + cursor[l[1]] + `"`, l[2:4]},
					{`last: 2, after: "` + cursor[l[1]] + `"`, l[3:]},
					{`first: 5, after: "` + cursor[l[0]] + `", before: "` + cursor[l[3]] + `"`, l[1:3]},
					{`last: 5, after: "` + cursor[l[0]] + `", before: "` + cursor[l[4]] + `"`, l[1:4]},
				} {
					var out postPage
					a.Do(t, `{ posts(`+tc.args+order.arg+`) { `+fields+` } }`, nil, &out)
					if !slices.Equal(out.titles(), tc.want) {
						t.Errorf("posts(%s%s): want %v, got %v", tc.args, order.arg, tc.want, out.titles())
					}
				}
			}
			// Users in ID order: cursors without a value.
			var users struct {
				Users struct{ Edges []struct{ Cursor string } }
			}
			a.Do(t, `{ users(first: 2) { edges { cursor } } }`, nil, &users)
			if len(users.Users.Edges) != 2 {
				t.Fatalf("users: %+v", users)
			}
			for _, tc := range []struct{ args, want string }{
				{`first: 1, before: "` + users.Users.Edges[1].Cursor + `"`, "ada"},
				{`last: 1, after: "` + users.Users.Edges[0].Cursor + `"`, "bob"},
			} {
				var out struct {
					Users struct {
						Edges []struct{ Node struct{ Username string } }
					}
				}
				a.Do(t, `{ users(`+tc.args+`) { edges { node { username } } } }`, nil, &out)
				if len(out.Users.Edges) != 1 || out.Users.Edges[0].Node.Username != tc.want {
					t.Errorf("users(%s): want %s, got %+v", tc.args, tc.want, out.Users.Edges)
				}
			}
		})

		t.Run("first 100 is allowed", func(t *testing.T) {
			var out postPage
			a.Do(t, `{ posts(first: 100) { `+fields+` } }`, nil, &out)
			if out.Posts.TotalCount != 5 || len(out.Posts.Edges) != 5 || out.Posts.PageInfo.HasNextPage {
				t.Errorf("got %+v", out.Posts)
			}
		})

		// pageInfo costs no COUNT: hasNextPage and hasPreviousPage come from reading one item more
		// than the page, also when edges are not selected, and also for connections field
		// collection loads below a list. Only totalCount counts.
		t.Run("pageInfo without totalCount", func(t *testing.T) {
			statements := func(query string) (json.RawMessage, int) {
				t.Helper()
				r := a.Post(t, query, nil)
				if len(r.Errors) > 0 {
					t.Fatalf("%s: %+v", query, r.Errors)
				}
				n, _ := r.Extensions["dbStatements"].(float64)
				return r.Data, int(n)
			}
			for _, tc := range []struct {
				name, query, want string
			}{
				{"more", `{ posts(first: 2) { pageInfo { hasNextPage hasPreviousPage } edges { node { title } } } }`,
					`{"posts":{"pageInfo":{"hasNextPage":true,"hasPreviousPage":false},"edges":[{"node":{"title":"P5"}},{"node":{"title":"P4"}}]}}`},
				{"all", `{ posts(first: 5) { pageInfo { hasNextPage } edges { node { title } } } }`,
					`{"posts":{"pageInfo":{"hasNextPage":false},"edges":[{"node":{"title":"P5"}},{"node":{"title":"P4"}},{"node":{"title":"P3"}},{"node":{"title":"P2"}},{"node":{"title":"P1"}}]}}`},
				{"pageInfo alone, more", `{ posts(first: 4) { pageInfo { hasNextPage } } }`, `{"posts":{"pageInfo":{"hasNextPage":true}}}`},
				{"pageInfo alone, all", `{ posts(first: 5) { pageInfo { hasNextPage } } }`, `{"posts":{"pageInfo":{"hasNextPage":false}}}`},
				{"pageInfo alone, last", `{ posts(last: 4) { pageInfo { hasPreviousPage hasNextPage } } }`,
					`{"posts":{"pageInfo":{"hasPreviousPage":true,"hasNextPage":false}}}`},
				{"nested", `{ users(first: 2) { edges { node { username posts(first: 4) { pageInfo { hasNextPage } edges { node { title } } } } } } }`,
					`{"users":{"edges":[{"node":{"username":"ada","posts":{"pageInfo":{"hasNextPage":true},"edges":[{"node":{"title":"P1"}},{"node":{"title":"P2"}},{"node":{"title":"P3"}},{"node":{"title":"P4"}}]}}},{"node":{"username":"bob","posts":{"pageInfo":{"hasNextPage":false},"edges":[]}}}]}}`},
				{"nested pageInfo alone", `{ users(first: 2) { edges { node { a: posts(first: 4) { pageInfo { hasNextPage } } b: posts(first: 5) { pageInfo { hasNextPage } } } } } }`,
					`{"users":{"edges":[{"node":{"a":{"pageInfo":{"hasNextPage":true}},"b":{"pageInfo":{"hasNextPage":false}}}},{"node":{"a":{"pageInfo":{"hasNextPage":false}},"b":{"pageInfo":{"hasNextPage":false}}}}]}}`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					data, n := statements(tc.query)
					if string(data) != tc.want {
						t.Errorf("got  %s\nwant %s", data, tc.want)
					}
					// Asking for totalCount too adds one COUNT (grouped by parent when nested), no more.
					// Nested on PostgreSQL, none: the statement that reads each parent's first page
					// counts its items (limitPerRow).
					more := 1
					if strings.HasPrefix(tc.name, "nested") && a.db.Dialect == dialect.Postgres {
						more = 0
					}
					withTotal := strings.Replace(tc.query, "pageInfo {", "totalCount pageInfo {", 1)
					if _, m := statements(withTotal); m != n+more {
						t.Errorf("%d statements, %d with totalCount: want %d more", n, m, more)
					}
				})
			}
		})

		t.Run("totalCount without first", func(t *testing.T) {
			var out struct {
				Users struct{ TotalCount int }
				Posts struct{ TotalCount int }
			}
			a.Do(t, `{ users { totalCount } posts { totalCount } }`, nil, &out)
			if out.Users.TotalCount != 2 || out.Posts.TotalCount != 5 {
				t.Errorf("want 2 users and 5 visible posts, got %+v", out)
			}
		})
	})
}

func TestPaginationLimits(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		p := a.createPost(t, ada, map[string]any{"title": "Hello", "publish": true})
		for _, tc := range []struct {
			name, query string
			vars        map[string]any
			field       string
			msg         string // the message must contain it
		}{
			{"first 101", `{ posts(first: 101) { edges { node { id } } } }`, nil, "first", "100"},
			{"last 101", `{ users(last: 101) { edges { node { id } } } }`, nil, "last", "100"},
			{"first -1", `{ posts(first: -1) { edges { node { id } } } }`, nil, "first", "100"},
			{"last -1", `{ tags(last: -1) { totalCount } }`, nil, "last", "100"},
			{"edges without first or last", `{ posts { edges { node { id } } } }`, nil, "first", "100"},
			{"users edges without first or last", `{ users { totalCount edges { cursor } } }`, nil, "first", "100"},
			{"nested first 500", `{ users(first: 1) { edges { node { posts(first: 500) { totalCount } } } } }`, nil, "first", "100"},
			{"nested edges without first", `{ users(first: 1) { edges { node { followers { edges { node { id } } } } } } }`, nil, "first", "100"},
			{"variable 101", `query($n: Int) { users(first: $n) { edges { node { id } } } }`, map[string]any{"n": 101}, "first", "100"},
			{"aliased", `{ a: users(first: 1) { totalCount } b: users(first: 101) { totalCount } }`, nil, "first", "100"},
			{"in a fragment", `query { users(first: 1) { ...U } } fragment U on UserConnection { edges { node { following(first: 101) { totalCount } } } }`, nil, "first", "100"},
			{"in an inline fragment", `query($id: ID!) { node(id: $id) { ... on Post { comments(last: 101) { totalCount } } } }`, map[string]any{"id": p.ID}, "last", "100"},
			{"garbage after", `{ posts(first: 2, after: "zzz") { totalCount } }`, nil, "after", "cursor"},
			{"garbage after in a variable", `query($c: Cursor) { posts(first: 2, after: $c) { totalCount } }`, map[string]any{"c": "zzz"}, "after", "cursor"},
			{"garbage before", `{ users(last: 2, before: "zzz") { totalCount } }`, nil, "before", "cursor"},
			{"first and last", `{ posts(first: 1, last: 1) { totalCount } }`, nil, "last", "not both"},
			{"nested first and last", `{ posts(first: 1) { edges { node { comments(first: 1, last: 1) { totalCount } } } } }`, nil, "last", "not both"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := a.Fail(t, "BAD_USER_INPUT", tc.field, tc.query, tc.vars)
				if !strings.Contains(e.Message, tc.msg) {
					t.Errorf("message %q does not mention %q", e.Message, tc.msg)
				}
			})
		}

		t.Run("feed", func(t *testing.T) {
			a.as(ada).Fail(t, "BAD_USER_INPUT", "first", `{ feed(first: 101) { totalCount } }`, nil)
		})
		// Limits are checked before anything runs: the mutation is refused, not executed.
		t.Run("refused before a mutation runs", func(t *testing.T) {
			before := a.count(t, "posts")
			a.as(ada).Fail(t, "BAD_USER_INPUT", "first",
				`mutation { createPost(input: {title: "Never"}) { post { comments(first: 500) { totalCount } } } }`, nil)
			if after := a.count(t, "posts"); after != before {
				t.Errorf("posts went from %d to %d", before, after)
			}
		})
	})
}

// noRedirect is an HTTP client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func httpSend(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func httpGet(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Apollo-Require-Preflight", "true") // what CSRF prevention asks of GETs
	return httpSend(t, req)
}

func httpPostJSON(t *testing.T, u string, headers map[string]string, body any) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return httpSend(t, req)
}

func decodeGraphQL(t *testing.T, body []byte) testenv.Response {
	t.Helper()
	var r testenv.Response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("not a GraphQL response: %v\n%s", err, body)
	}
	return r
}

func contentMediaType(t *testing.T, res *http.Response) string {
	t.Helper()
	mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", res.Header.Get("Content-Type"), err)
	}
	return mt
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	a.register(t, "ada")
	endpoint := a.srv.URL + "/graphql"

	t.Run("GET query", func(t *testing.T) {
		res, body := httpGet(t, endpoint+"?"+url.Values{"query": {"{__typename}"}}.Encode())
		r := decodeGraphQL(t, body)
		if res.StatusCode != http.StatusOK || len(r.Errors) > 0 || string(r.Data) != `{"__typename":"Query"}` {
			t.Fatalf("got %d %s", res.StatusCode, body)
		}
		res, body = httpGet(t, endpoint+"?"+url.Values{
			"query":     {`query($u: String!) { user(username: $u) { username } }`},
			"variables": {`{"u": "ADA"}`},
		}.Encode())
		r = decodeGraphQL(t, body)
		if res.StatusCode != http.StatusOK || len(r.Errors) > 0 || string(r.Data) != `{"user":{"username":"ada"}}` {
			t.Fatalf("with variables: got %d %s", res.StatusCode, body)
		}
	})

	t.Run("GET mutation is refused", func(t *testing.T) {
		before := a.count(t, "users")
		res, body := httpGet(t, endpoint+"?"+url.Values{"query": {
			`mutation { register(input: {username: "mallory", email: "m@example.com", password: "password-mallory"}) { accessToken } }`,
		}}.Encode())
		if res.StatusCode >= 200 && res.StatusCode < 300 {
			t.Errorf("want a non-2xx status, got %d %s", res.StatusCode, body)
		}
		if after := a.count(t, "users"); after != before {
			t.Errorf("users went from %d to %d", before, after)
		}
	})

	t.Run("content negotiation", func(t *testing.T) {
		for _, tc := range []struct{ accept, want string }{
			{"application/graphql-response+json", "application/graphql-response+json"},
			{"application/graphql-response+json, application/json;q=0.9", "application/graphql-response+json"},
			{"application/json", "application/json"},
		} {
			res, body := httpPostJSON(t, endpoint, map[string]string{"Accept": tc.accept}, map[string]any{"query": "{ __typename }"})
			r := decodeGraphQL(t, body)
			if res.StatusCode != http.StatusOK || len(r.Errors) > 0 || string(r.Data) != `{"__typename":"Query"}` {
				t.Errorf("Accept %s: got %d %s", tc.accept, res.StatusCode, body)
			}
			if got := contentMediaType(t, res); got != tc.want {
				t.Errorf("Accept %s: want Content-Type %s, got %s", tc.accept, tc.want, got)
			}
		}
	})

	t.Run("bad bearer token", func(t *testing.T) {
		for _, auth := range []string{"Bearer not-a-token", "Bearer ", "Basic YWRhOnB3", "Bearer " + strings.Repeat("x", 50) + ".e30.sig"} {
			before := a.count(t, "users")
			res, body := httpPostJSON(t, endpoint, map[string]string{"Authorization": auth}, map[string]any{
				"query": `mutation { register(input: {username: "eve", email: "eve@example.com", password: "password-eve"}) { accessToken } }`,
			})
			r := decodeGraphQL(t, body)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%q: want 401, got %d %s", auth, res.StatusCode, body)
			}
			if len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
				t.Errorf("%q: want one UNAUTHENTICATED error, got %s", auth, body)
			}
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%q: WWW-Authenticate %q", auth, res.Header.Get("WWW-Authenticate"))
			}
			if after := a.count(t, "users"); after != before {
				t.Errorf("%q: the request ran: users went from %d to %d", auth, before, after)
			}
		}
	})

	t.Run("health", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			res, body := httpGet(t, a.srv.URL+path)
			if res.StatusCode != http.StatusOK || string(body) != "ok\n" {
				t.Errorf("%s: got %d %q", path, res.StatusCode, body)
			}
		}
	})

	t.Run("GraphiQL", func(t *testing.T) {
		res, body := httpGet(t, a.srv.URL+"/")
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/?query=") {
			t.Fatalf("/: want a 302 to /?query=..., got %d Location %q %s", res.StatusCode, loc, body)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		if q := u.Query().Get("query"); !strings.Contains(q, "posts(first: 10") {
			t.Errorf("the default query is not a valid page: %q", q)
		}
		res, body = httpGet(t, a.srv.URL+loc)
		if res.StatusCode != http.StatusOK || contentMediaType(t, res) != "text/html" || !strings.Contains(string(body), "GraphiQL") {
			t.Errorf("%s: got %d %s, %d bytes", loc, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
		if res, _ := httpGet(t, a.srv.URL+"/nope"); res.StatusCode != http.StatusNotFound {
			t.Errorf("/nope: want 404, got %d", res.StatusCode)
		}
	})
}

func TestHTTPInternalErrorMasked(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	a.register(t, "ada")
	// The database goes away under the running server.
	if err := a.db.SQL.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.db.Client.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, requestID string // requestID sent; "" lets the server make one
	}{
		{"server's request ID", ""},
		{"client's request ID", "test-request-42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := map[string]string{}
			if tc.requestID != "" {
				headers["X-Request-ID"] = tc.requestID
			}
			res, body := httpPostJSON(t, a.srv.URL+"/graphql", headers, map[string]any{"query": `{ users(first: 1) { totalCount } }`})
			r := decodeGraphQL(t, body)
			id := res.Header.Get("X-Request-ID")
			if id == "" || (tc.requestID != "" && id != tc.requestID) {
				t.Errorf("X-Request-ID: sent %q, got %q", tc.requestID, id)
			}
			if len(r.Errors) != 1 {
				t.Fatalf("want one error, got %s", body)
			}
			e := r.Errors[0]
			if e.Code() != "INTERNAL_SERVER_ERROR" || e.Message != "internal error" {
				t.Errorf("want INTERNAL_SERVER_ERROR \"internal error\", got %s %q", e.Code(), e.Message)
			}
			if got, _ := e.Extensions["requestId"].(string); got != id {
				t.Errorf("extensions.requestId %q, X-Request-ID header %q", got, id)
			}
			lower := strings.ToLower(string(body))
			for _, leak := range []string{"sql", "database", "closed", "select", "from"} {
				if strings.Contains(lower, leak) {
					t.Errorf("response leaks %q: %s", leak, body)
				}
			}
		})
	}

	res, body := httpGet(t, a.srv.URL+"/readyz")
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database closed: want 503, got %d %q", res.StatusCode, body)
	}
	if res, _ := httpGet(t, a.srv.URL+"/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz with the database closed: want 200, got %d", res.StatusCode)
	}
}
