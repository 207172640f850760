package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/testenv"
)

const entitiesQuery = `query($r: [_Any!]!) { _entities(representations: $r) {
  ... on User { id username email }
  ... on Post { id title author { username } }
  ... on Tag { id name }
  ... on Comment { id body }
} }`

// TestFederationEntities: a router resolving 50 mixed entities costs at most one statement per
// entity type, and _entities shows each viewer what node does.
func TestFederationEntities(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada, bob := a.register(t, "ada"), a.register(t, "bob")
		var reps []any
		rep := func(typename, id string) { reps = append(reps, map[string]any{"__typename": typename, "id": id}) }
		for i := range 10 {
			p := a.createPost(t, ada, map[string]any{"title": fmt.Sprintf("Post %d", i), "tags": []any{fmt.Sprintf("t%d", i)}, "publish": true})
			var c struct {
				AddComment struct{ Comment struct{ ID string } }
			}
			a.as(bob).Do(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "hi"}) { comment { id } } }`, map[string]any{"id": p.ID}, &c)
			rep("Post", p.ID)
			rep("Comment", c.AddComment.Comment.ID)
		}
		var tags struct {
			Tags struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		a.Do(t, `{ tags(first: 20) { edges { node { id } } } }`, nil, &tags)
		for _, e := range tags.Tags.Edges {
			rep("Tag", e.Node.ID)
		}
		for len(reps) < 50 {
			rep("User", []string{ada.ID, bob.ID}[len(reps)%2])
		}

		cold, coldN := measure(t, a.GraphQL, entitiesQuery, map[string]any{"r": reps})
		warm, warmN := measure(t, a.GraphQL, entitiesQuery, map[string]any{"r": reps})
		t.Logf("_entities of 50 mixed keys (4 types): %d statements cold, %d warm", coldN, warmN)
		if coldN > 4 || warmN > coldN || warm != cold {
			t.Fatalf("want at most one statement per type (4) and the same answer warm: cold %d, warm %d\n%s\n%s", coldN, warmN, cold, warm)
		}

		// Privacy holds as through node: a draft and an email.
		draft := a.createPost(t, ada, map[string]any{"title": "Draft"})
		both := map[string]any{"r": []any{map[string]any{"__typename": "Post", "id": draft.ID}, map[string]any{"__typename": "User", "id": ada.ID}}}
		for _, tc := range []struct {
			who  string
			c    testenv.GraphQL
			want string
		}{
			{"anonymous", a.GraphQL, fmt.Sprintf(`{"_entities":[null,{"id":"%s","username":"ada","email":null}]}`, ada.ID)},
			{"bob", a.as(bob), fmt.Sprintf(`{"_entities":[null,{"id":"%s","username":"ada","email":null}]}`, ada.ID)},
			{"ada", a.as(ada), fmt.Sprintf(`{"_entities":[{"id":"%s","title":"Draft","author":{"username":"ada"}},{"id":"%s","username":"ada","email":"ada@example.com"}]}`, draft.ID, ada.ID)},
		} {
			if got := string(tc.c.Post(t, entitiesQuery, both).Data); got != tc.want {
				t.Errorf("%s: want %s, got %s", tc.who, tc.want, got)
			}
		}
	})
}

// TestSubgraphSDL: _service.sdl declares the entities' keys and the authorization directives in
// federation's form, for a router to compose and enforce.
func TestSubgraphSDL(t *testing.T) {
	a := newAPI(t, "sqlite")
	var out struct {
		Service struct{ SDL string } `json:"_service"`
	}
	a.Do(t, `{ _service { sdl } }`, nil, &out)
	for _, want := range []string{
		`@link(url: "https://specs.apollo.dev/federation/v2.7"`,
		`extend type User @key(fields: "id")`,
		`extend type Post @key(fields: "id")`,
		`email: String @policy(policies: [["self"], ["admin"]])`,
		`@requiresScopes(scopes: [["write"]])`,
		`feed(`,
	} {
		if !strings.Contains(out.Service.SDL, want) {
			t.Errorf("the subgraph SDL lacks %q", want)
		}
	}
}

// TestSubgraphSDLWithoutAuthDirectives: with AGORA_FEDERATION_AUTH_DIRECTIVES=omit (for Apollo
// Gateway), _service.sdl neither imports nor applies @authenticated, @requiresScopes and @policy,
// and is otherwise the same schema, every description kept; Agora still enforces every one of them.
func TestSubgraphSDLWithoutAuthDirectives(t *testing.T) {
	a := newAPI(t, "sqlite")
	omit := startAPIWith(t, a.db, nil, func(c *config.Config) { c.GraphQL.FederationAuthDirectives = config.AuthDirectivesOmit })
	sdl := func(a *api) string {
		var out struct {
			Service struct{ SDL string } `json:"_service"`
		}
		a.Do(t, `{ _service { sdl } }`, nil, &out)
		return out.Service.SDL
	}
	full, stripped := sdl(a), sdl(omit)
	if !strings.Contains(stripped, `import: ["@key"])`) {
		t.Errorf("the @link still imports authorization directives:\n%s", stripped)
	}
	auth := map[string]bool{"authenticated": true, "requiresScopes": true, "policy": true}
	parse := func(what, sdl string) *ast.SchemaDocument {
		doc, err := parser.ParseSchema(&ast.Source{Name: what, Input: sdl})
		if err != nil {
			t.Fatalf("%s does not parse: %v", what, err)
		}
		return doc
	}
	// The same definitions, fields, arguments and descriptions; the directives but the three.
	type field struct{ description, directives, arguments string }
	fields := func(doc *ast.SchemaDocument, dropAuth bool) (map[string]field, int) {
		out, dropped := map[string]field{}, 0
		for _, defs := range [][]*ast.Definition{doc.Definitions, doc.Extensions} {
			for _, d := range defs {
				out[d.Name] = field{description: d.Description}
				for _, f := range d.Fields {
					var dirs []string
					for _, dir := range f.Directives {
						if dropAuth && auth[dir.Name] {
							dropped++
							continue
						}
						dirs = append(dirs, dir.Name)
					}
					var args []string
					for _, arg := range f.Arguments {
						args = append(args, arg.Name+":"+arg.Type.String()+":"+arg.Description)
					}
					key := d.Name + "." + f.Name
					if _, seen := out[key]; seen {
						key += "'"
					}
					out[key] = field{f.Description, strings.Join(dirs, ","), strings.Join(args, ",")}
				}
			}
		}
		return out, dropped
	}
	want, dropped := fields(parse("the full SDL", full), true)
	got, left := fields(parse("the SDL without authorization directives", stripped), false)
	if dropped < 20 || left != 0 {
		t.Errorf("%d authorization directives in the full SDL, %d left", dropped, left)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: want %+v, got %+v", k, w, got[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d definitions and fields, want %d", len(got), len(want))
	}
	for _, line := range strings.Split(stripped, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && regexp.MustCompile(`@(authenticated|requiresScopes|policy)\b`).MatchString(line) {
			t.Errorf("left in the SDL: %s", line)
		}
	}
	// Enforced all the same.
	var out struct {
		CreatePost *struct{ Post struct{ ID string } }
	}
	r := omit.Post(t, `mutation { createPost(input: {title: "No token", body: "x", publish: true}) { post { id } } }`, nil)
	if _ = json.Unmarshal(r.Data, &out); out.CreatePost != nil || len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
		t.Errorf("createPost without a token: %s %+v", r.Data, r.Errors)
	}
}

// TestFederatedTracing: a router that asks for ftv1 gets a trace in extensions; others get none.
func TestFederatedTracing(t *testing.T) {
	a := newAPI(t, "sqlite")
	a.register(t, "ada")
	post := func(header bool) map[string]any {
		body := strings.NewReader(`{"query":"{ users(first: 5) { edges { node { username } } } }"}`)
		req, _ := http.NewRequest(http.MethodPost, a.URL, body)
		req.Header.Set("Content-Type", "application/json")
		if header {
			req.Header.Set("apollo-federation-include-trace", "ftv1")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, res).Extensions
	}
	if trace, _ := post(true)["ftv1"].(string); len(trace) < 20 {
		t.Fatalf("asked for ftv1, got %q", trace)
	}
	if _, ok := post(false)["ftv1"]; ok {
		t.Fatal("an ftv1 trace without the router's header")
	}
}

// TestEntityConnections: connections below node and _entities load with their parents, so their
// SQL does not grow with the number of entities.
func TestEntityConnections(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		reader := a.register(t, "reader")
		authors := []user{a.register(t, "author0"), a.register(t, "author1")}
		seedFeed(t, a, authors, reader, 20)
		var page struct {
			Posts struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		a.Do(t, `{ posts(first: 20) { edges { node { id } } } }`, nil, &page)
		const fields = `... on Post { title author { username } comments(first: 3) { totalCount edges { node { body author { username } } } } }`
		for name, query := range map[string]string{
			"nodes":     `query($ids: [ID!]!) { nodes(ids: $ids) { ` + fields + ` } }`,
			"_entities": `query($reps: [_Any!]!) { _entities(representations: $reps) { ` + fields + ` } }`,
		} {
			cost := func(n int) int {
				ids, reps := []string{}, []any{}
				for _, e := range page.Posts.Edges[:n] {
					ids = append(ids, e.Node.ID)
					reps = append(reps, map[string]any{"__typename": "Post", "id": e.Node.ID})
				}
				data, statements := measure(t, a.GraphQL, query, map[string]any{"ids": ids, "reps": reps})
				if strings.Count(data, `"body":"comment`) != 3*n {
					t.Fatalf("%s of %d posts: want 3 comments each, got %s", name, n, data)
				}
				return statements
			}
			small, large := cost(5), cost(20)
			t.Logf("%s with comments: %d statements for 5 posts, %d for 20", name, small, large)
			if small != large {
				t.Fatalf("%s with comments costs %d statements for 5 posts but %d for 20", name, small, large)
			}
		}
	})
}
