package server_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/agora/agora/internal/testenv"
)

// TestPostFilters: each condition of posts(where:) on both databases, alone and together, and
// the viewer's privacy rule under all of them.
func TestPostFilters(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		alice := a.register(t, "alice")
		albert := a.register(t, "albert")
		bob := a.register(t, "bob")
		// Oldest first: each is created, and the published ones published, after the one before.
		a.createPost(t, alice, map[string]any{"title": "Go generics", "tags": []any{"go", "Type Systems"}, "publish": true})
		a.createPost(t, alice, map[string]any{"title": "Postgres tips", "tags": []any{"sql"}, "publish": true})
		a.createPost(t, bob, map[string]any{"title": "Going out", "tags": []any{"life"}, "publish": true})
		a.createPost(t, albert, map[string]any{"title": "Draft about go", "tags": []any{"go"}})

		times := map[string]struct{ CreatedAt, PublishedAt string }{}
		var all struct {
			Posts struct {
				Edges []struct {
					Node struct{ Title, CreatedAt, PublishedAt string }
				}
			}
		}
		a.as(albert).Do(t, `{ posts(first: 10) { edges { node { title createdAt publishedAt } } } }`, nil, &all)
		for _, e := range all.Posts.Edges {
			times[e.Node.Title] = struct{ CreatedAt, PublishedAt string }{e.Node.CreatedAt, e.Node.PublishedAt}
		}
		if len(times) != 4 {
			t.Fatalf("albert sees %d posts, want 4: %+v", len(times), all)
		}

		const q = `query($where: PostFilter, $orderBy: PostOrder) {
  posts(first: 10, where: $where, orderBy: $orderBy) { totalCount edges { node { title } } }
}`
		for _, tc := range []struct {
			name   string
			client testenv.GraphQL
			where  map[string]any
			want   []string // newest first
		}{
			{"no filter", a.GraphQL, nil, []string{"Going out", "Postgres tips", "Go generics"}},
			{"empty filter", a.GraphQL, map[string]any{}, []string{"Going out", "Postgres tips", "Go generics"}},
			{"by author ID", a.GraphQL, map[string]any{"authorID": alice.ID}, []string{"Postgres tips", "Go generics"}},
			{"by author username, any case", a.GraphQL, map[string]any{"authorUsername": "ALICE"}, []string{"Postgres tips", "Go generics"}},
			{"by a username nobody has", a.GraphQL, map[string]any{"authorUsername": "nobody"}, []string{}},
			{"by ID and username of two people", a.GraphQL, map[string]any{"authorID": alice.ID, "authorUsername": "bob"}, []string{}},
			{"by tag", a.GraphQL, map[string]any{"tags": []any{"go"}}, []string{"Go generics"}},
			{"by tag, as the draft's author", a.as(albert), map[string]any{"tags": []any{"go"}}, []string{"Draft about go", "Go generics"}},
			{"by any of two tags", a.GraphQL, map[string]any{"tags": []any{"sql", "life"}}, []string{"Going out", "Postgres tips"}},
			{"by a tag as typed", a.GraphQL, map[string]any{"tags": []any{"TYPE systems"}}, []string{"Go generics"}},
			{"a post with two of the tags listed once", a.GraphQL, map[string]any{"tags": []any{"go", "type-systems"}}, []string{"Go generics"}},
			{"by an unknown tag", a.GraphQL, map[string]any{"tags": []any{"cobol"}}, []string{}},
			{"empty tag list: any tags", a.GraphQL, map[string]any{"tags": []any{}}, []string{"Going out", "Postgres tips", "Go generics"}},
			{"author and tag", a.GraphQL, map[string]any{"authorUsername": "alice", "tags": []any{"sql", "life"}}, []string{"Postgres tips"}},
			{"drafts, signed out", a.GraphQL, map[string]any{"status": "DRAFT"}, []string{}},
			{"drafts, as another user", a.as(alice), map[string]any{"status": "DRAFT"}, []string{}},
			{"drafts, as their author", a.as(albert), map[string]any{"status": "DRAFT"}, []string{"Draft about go"}},
			{"someone's drafts, as another user", a.as(alice), map[string]any{"status": "DRAFT", "authorID": albert.ID}, []string{}},
			{"published, as the draft's author", a.as(albert), map[string]any{"status": "PUBLISHED", "tags": []any{"go"}}, []string{"Go generics"}},
			{"created after the first", a.GraphQL, map[string]any{"createdAfter": times["Go generics"].CreatedAt}, []string{"Going out", "Postgres tips"}},
			{"created before the second", a.GraphQL, map[string]any{"createdBefore": times["Postgres tips"].CreatedAt}, []string{"Go generics"}},
			{"created between, exclusive", a.GraphQL, map[string]any{"createdAfter": times["Go generics"].CreatedAt, "createdBefore": times["Going out"].CreatedAt}, []string{"Postgres tips"}},
			{"created after, as the draft's author", a.as(albert), map[string]any{"createdAfter": times["Going out"].CreatedAt}, []string{"Draft about go"}},
			{"published after the first", a.as(albert), map[string]any{"publishedAfter": times["Go generics"].PublishedAt}, []string{"Going out", "Postgres tips"}},
			{"published before the last: drafts have not been", a.as(albert), map[string]any{"publishedBefore": times["Going out"].PublishedAt}, []string{"Postgres tips", "Go generics"}},
			{"published in an empty range", a.GraphQL, map[string]any{"publishedAfter": times["Going out"].PublishedAt, "publishedBefore": times["Go generics"].PublishedAt}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var out struct {
					Posts struct {
						TotalCount int
						Edges      []struct{ Node struct{ Title string } }
					}
				}
				vars := map[string]any{}
				if tc.where != nil {
					vars["where"] = tc.where
				}
				tc.client.Do(t, q, vars, &out)
				got := []string{}
				for _, e := range out.Posts.Edges {
					got = append(got, e.Node.Title)
				}
				if !slices.Equal(got, tc.want) || out.Posts.TotalCount != len(tc.want) {
					t.Errorf("posts(where: %v): want %v, got %v (totalCount %d)", tc.where, tc.want, got, out.Posts.TotalCount)
				}
			})
		}

		// Filters and orderings together, and the cursor of a filtered page continues it.
		var page postPage
		a.Do(t, `{ posts(first: 1, where: {authorID: "`+alice.ID+`"}, orderBy: {field: TITLE, direction: ASC}) {
		  totalCount pageInfo { hasNextPage endCursor } edges { node { id title } } } }`, nil, &page)
		if got := page.titles(); !slices.Equal(got, []string{"Go generics"}) || !page.Posts.PageInfo.HasNextPage || page.Posts.TotalCount != 2 {
			t.Fatalf("alice's first post by title: got %v, %+v", got, page.Posts.PageInfo)
		}
		a.Do(t, `query($after: Cursor) { posts(first: 5, after: $after, where: {authorID: "`+alice.ID+`"}, orderBy: {field: TITLE, direction: ASC}) {
		  pageInfo { hasNextPage } edges { node { id title } } } }`, map[string]any{"after": page.Posts.PageInfo.EndCursor}, &page)
		if got := page.titles(); !slices.Equal(got, []string{"Postgres tips"}) || page.Posts.PageInfo.HasNextPage {
			t.Fatalf("alice's posts after the first: got %v, %+v", got, page.Posts.PageInfo)
		}

		t.Run("bad input", func(t *testing.T) {
			tags := make([]any, 21)
			for i := range tags {
				tags[i] = fmt.Sprintf("tag-%d", i)
			}
			for _, tc := range []struct {
				name  string
				where map[string]any
				field string
			}{
				{"21 tags", map[string]any{"tags": tags}, "where.tags"},
				{"a tag without letters or digits", map[string]any{"tags": []any{"go", "--!--"}}, "where.tags"},
				{"a 33-character username", map[string]any{"authorUsername": strings.Repeat("a", 33)}, "where.authorUsername"},
				{"half a megabyte of username", map[string]any{"authorUsername": strings.Repeat("a", 500_000)}, "where.authorUsername"},
			} {
				e := a.GraphQL.Fail(t, "BAD_USER_INPUT", tc.field, q, map[string]any{"where": tc.where})
				if len(e.Message) > 200 {
					t.Errorf("%s: the message echoes the input: %d bytes", tc.name, len(e.Message))
				}
			}
			a.GraphQL.Fail(t, "BAD_USER_INPUT", "", q, map[string]any{"where": map[string]any{"authorID": "not-an-id"}})
			a.GraphQL.Fail(t, "BAD_USER_INPUT", "", q, map[string]any{"where": map[string]any{"createdAfter": "yesterday"}})
			// 20 tags are fine.
			a.Do(t, q, map[string]any{"where": map[string]any{"tags": tags[:20]}}, nil)
		})
	})
}

// TestUserAndTagFilters: users(where:) by role and orderBy, tags(where:) by name, on both
// databases.
func TestUserAndTagFilters(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		alice := a.register(t, "alice")
		albert := a.register(t, "albert")
		a.register(t, "bob")
		carol := a.register(t, "carol")
		a.setRole(t, carol, "MODERATOR")
		a.as(alice).Do(t, `mutation { updateProfile(input: {displayName: "zed"}) { user { id } } }`, nil, nil)
		a.createPost(t, alice, map[string]any{"title": "Go", "tags": []any{"go", "sql"}, "publish": true})
		a.createPost(t, albert, map[string]any{"title": "Draft", "tags": []any{"drafty"}})

		users := func(t *testing.T, args string) []string {
			t.Helper()
			var out struct {
				Users struct {
					TotalCount int
					Edges      []struct{ Node struct{ Username string } }
				}
			}
			a.Do(t, `{ users(first: 10, `+args+`) { totalCount edges { node { username } } } }`, nil, &out)
			s := []string{}
			for _, e := range out.Users.Edges {
				s = append(s, e.Node.Username)
			}
			if out.Users.TotalCount != len(s) {
				t.Errorf("users(%s): totalCount %d, %d edges", args, out.Users.TotalCount, len(s))
			}
			return s
		}
		for _, tc := range []struct {
			args string
			want []string
		}{
			{`orderBy: {field: USERNAME, direction: ASC}`, []string{"albert", "alice", "bob", "carol"}},
			{`orderBy: {field: USERNAME, direction: DESC}`, []string{"carol", "bob", "alice", "albert"}},
			{`orderBy: {field: CREATED_AT, direction: DESC}`, []string{"carol", "bob", "albert", "alice"}},
			{`orderBy: {field: DISPLAY_NAME, direction: DESC}`, []string{"alice", "carol", "bob", "albert"}}, // alice is zed
			{`where: {role: MODERATOR}`, []string{"carol"}},
			{`where: {role: USER}, orderBy: {field: USERNAME}`, []string{"albert", "alice", "bob"}},
			{`where: {role: ADMIN}`, []string{}},
			{`where: {}, orderBy: {field: USERNAME}`, []string{"albert", "alice", "bob", "carol"}},
		} {
			if got := users(t, tc.args); !slices.Equal(got, tc.want) {
				t.Errorf("users(%s): want %v, got %v", tc.args, tc.want, got)
			}
		}
		// Email is private: it is no filter.
		a.Fail(t, "GRAPHQL_VALIDATION_FAILED", "", `{ users(first: 10, where: {email: "alice@example.com"}) { totalCount } }`, nil)

		tags := func(t *testing.T, c testenv.GraphQL, names ...string) []string {
			t.Helper()
			var out struct {
				Tags struct {
					TotalCount int
					Edges      []struct{ Node struct{ Name string } }
				}
			}
			c.Do(t, `query($names: [String!]) { tags(first: 10, where: {names: $names}, orderBy: {field: NAME}) { totalCount edges { node { name } } } }`,
				map[string]any{"names": names}, &out)
			s := []string{}
			for _, e := range out.Tags.Edges {
				s = append(s, e.Node.Name)
			}
			if out.Tags.TotalCount != len(s) {
				t.Errorf("tags(%v): totalCount %d, %d edges", names, out.Tags.TotalCount, len(s))
			}
			return s
		}
		for _, tc := range []struct {
			client testenv.GraphQL
			names  []string
			want   []string
		}{
			{a.GraphQL, nil, []string{"go", "sql"}},
			{a.GraphQL, []string{"SQL", "go", "cobol"}, []string{"go", "sql"}},
			{a.GraphQL, []string{"drafty"}, []string{}}, // on a draft only
			{a.as(albert), []string{"drafty"}, []string{"drafty"}},
		} {
			if got := tags(t, tc.client, tc.names...); !slices.Equal(got, tc.want) {
				t.Errorf("tags(where: {names: %v}): want %v, got %v", tc.names, tc.want, got)
			}
		}
		many := make([]string, 21)
		for i := range many {
			many[i] = fmt.Sprint("t", i)
		}
		a.Fail(t, "BAD_USER_INPUT", "where.names", `query($names: [String!]) { tags(first: 10, where: {names: $names}) { totalCount } }`, map[string]any{"names": many})
	})
}

// TestHiddenCommentsUnobservable: what a moderator hid changes nothing an anonymous or ordinary
// viewer can observe — no filter reaches comments (the letter-at-a-time extraction of a hidden
// comment's text through `hasCommentsWith: [{bodyHasPrefix:}]` is refused before it runs), and no
// ordering, count or list differs from a world without the hidden comments.
func TestHiddenCommentsUnobservable(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		alice := a.register(t, "alice")
		bob := a.register(t, "bob")
		carol := a.register(t, "carol")
		mod := a.register(t, "mod")
		a.setRole(t, mod, "MODERATOR")
		a.as(carol).Do(t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": alice.ID}, nil)
		quiet := a.createPost(t, alice, map[string]any{"title": "Quiet post", "body": "a post about go", "tags": []any{"go"}, "publish": true})
		busy := a.createPost(t, alice, map[string]any{"title": "Busy post", "body": "another post about go", "tags": []any{"go"}, "publish": true})
		comment := func(p post, body string) string {
			var out struct {
				AddComment struct{ Comment struct{ ID string } }
			}
			a.as(bob).Do(t, `mutation($p: ID!, $b: String!) { addComment(input: {postID: $p, body: $b}) { comment { id } } }`,
				map[string]any{"p": p.ID, "b": body}, &out)
			return out.AddComment.Comment.ID
		}
		comment(quiet, "a visible comment")

		var orderFields struct {
			Type struct{ EnumValues []struct{ Name string } } `json:"__type"`
		}
		a.Do(t, `{ __type(name: "PostOrderField") { enumValues { name } } }`, nil, &orderFields)
		if len(orderFields.Type.EnumValues) == 0 {
			t.Fatal("no PostOrderField values")
		}
		viewers := map[string]testenv.GraphQL{"anonymous": a.GraphQL, "carol": a.as(carol)}
		// observe is everything a viewer can learn about the posts: every ordering of every list
		// of posts, the counts, the feed and the search.
		observe := func(t *testing.T) map[string]string {
			t.Helper()
			seen := map[string]string{}
			for name, c := range viewers {
				for _, f := range orderFields.Type.EnumValues {
					for _, dir := range []string{"ASC", "DESC"} {
						q := fmt.Sprintf(`{
  posts(first: 10, orderBy: {field: %[1]s, direction: %[2]s}) { totalCount edges { node { title commentCount comments(first: 10) { totalCount edges { node { body } } } } } }
  user(username: "alice") { posts(first: 10, orderBy: {field: %[1]s, direction: %[2]s}) { totalCount edges { node { title } } } }
  tags(first: 10) { edges { node { name postCount posts(first: 10, orderBy: {field: %[1]s, direction: %[2]s}) { edges { node { title } } } } } }
}`, f.Name, dir)
						seen[name+" "+f.Name+" "+dir] = rawData(t, c, q, nil)
					}
				}
				if name == "carol" {
					seen[name+" feed"] = rawData(t, c, `{ feed(first: 10) { totalCount edges { node { title commentCount } } } }`, nil)
				}
				seen[name+" search"] = rawData(t, c, `{ search(query: "post", first: 10) { totalCount edges { node { title } } } }`, nil)
			}
			return seen
		}
		before := observe(t)

		// Bob writes secrets under the busy post; a moderator hides them.
		for _, body := range []string{"secret: the launch is on friday", "second hidden comment", "third hidden comment"} {
			id := comment(busy, body)
			a.as(mod).Do(t, `mutation($id: ID!) { hideComment(input: {id: $id}) { comment { id } } }`, map[string]any{"id": id}, nil)
		}

		after := observe(t)
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%s: the hidden comments changed what the viewer sees:\nbefore %s\nafter  %s", k, v, after[k])
			}
		}

		// The attacks of the report, each refused before it runs, whoever sends it.
		for name, c := range viewers {
			for _, q := range []string{
				// One letter at a time: does a hidden comment start with "s"? with "se"? …
				`{ posts(first: 10, where: {hasCommentsWith: [{bodyHasPrefix: "s"}]}) { totalCount } }`,
				`{ posts(first: 10, where: {hasCommentsWith: [{hasAuthorWith: [{username: "bob"}]}]}) { totalCount } }`,
				`{ posts(first: 10, orderBy: {field: COMMENTS_COUNT, direction: DESC}) { edges { node { title } } } }`,
				`{ posts(first: 10, where: {bodyContainsFold: "friday"}) { totalCount } }`,
				`{ post(slug: "` + busy.Slug + `") { comments(first: 10, where: {bodyHasPrefix: "s"}) { totalCount } } }`,
			} {
				if e := c.Fail(t, "GRAPHQL_VALIDATION_FAILED", "", q, nil); e.Message == "" {
					t.Errorf("%s: %s: no message", name, q)
				}
			}
		}
	})
}

// TestFilterSurface reads the served schema: no input anywhere offers what the generated
// where-inputs did — substring matching, edge predicates, and/or/not nesting, or an input that
// contains itself — and no ordering counts an edge's rows.
func TestFilterSurface(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "sqlite")
	var out struct {
		Schema struct {
			Types []struct {
				Kind, Name  string
				InputFields []struct {
					Name string
					Type json.RawMessage
				}
				EnumValues []struct{ Name string }
			}
		} `json:"__schema"`
	}
	a.Do(t, `{ __schema { types { kind name
	  inputFields { name type { name kind ofType { name kind ofType { name kind ofType { name kind } } } } }
	  enumValues { name } } } }`, nil, &out)
	forbidden := regexp.MustCompile(`(Contains|ContainsFold|HasPrefix|HasSuffix|EqualFold)$|^has[A-Z].*With$|^(and|or|not)$`)
	inputs := 0
	for _, ty := range out.Schema.Types {
		if strings.HasPrefix(ty.Name, "__") {
			continue
		}
		switch ty.Kind {
		case "INPUT_OBJECT":
			inputs++
			if strings.HasSuffix(ty.Name, "WhereInput") {
				t.Errorf("%s: a generated where-input is served", ty.Name)
			}
			for _, f := range ty.InputFields {
				if forbidden.MatchString(f.Name) {
					t.Errorf("%s.%s: a generated predicate is served", ty.Name, f.Name)
				}
				if strings.Contains(string(f.Type), `"name":"`+ty.Name+`"`) {
					t.Errorf("%s.%s: the input contains itself: its nesting has no bound", ty.Name, f.Name)
				}
			}
		case "ENUM":
			if strings.HasSuffix(ty.Name, "OrderField") {
				for _, v := range ty.EnumValues {
					if strings.HasSuffix(v.Name, "_COUNT") {
						t.Errorf("%s.%s: an ordering by a count of rows the viewer may not all see", ty.Name, v.Name)
					}
				}
			}
		}
	}
	if inputs == 0 {
		t.Fatal("no input types read")
	}
}
