package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/agora/agora/internal/testenv"
)

const nodesWithAuthors = `query($ids: [ID!]!) {
  nodes(ids: $ids) { id ... on Post { title status author { username displayName } } }
}`

// measure sends query as c and returns its data and the SQL statements it cost.
func measure(t *testing.T, c testenv.GraphQL, query string, vars map[string]any) (string, int) {
	t.Helper()
	r := c.Post(t, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %+v", query, r.Errors)
	}
	n, ok := r.Extensions["dbStatements"].(float64)
	if !ok {
		t.Fatalf("no extensions.dbStatements in %v", r.Extensions)
	}
	return string(r.Data), int(n)
}

// TestNodesFromCache: posts and their authors by ID come from the second level once cached, for
// anonymous and signed-in viewers alike, and the cached answer is the database's answer.
func TestNodesFromCache(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		reader := a.register(t, "reader")
		authors := []user{a.register(t, "author0"), a.register(t, "author1"), a.register(t, "author2")}
		seedFeed(t, a, authors, reader, 20)
		var page struct {
			Posts struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		a.Do(t, `{ posts(first: 20) { edges { node { id } } } }`, nil, &page)
		ids := make([]string, len(page.Posts.Edges))
		for i, e := range page.Posts.Edges {
			ids[i] = e.Node.ID
		}
		if len(ids) != 20 {
			t.Fatalf("want 20 posts, got %d", len(ids))
		}
		vars := map[string]any{"ids": ids}

		cold, coldN := measure(t, a.GraphQL, nodesWithAuthors, vars)
		warm, warmN := measure(t, a.GraphQL, nodesWithAuthors, vars)
		measure(t, a.as(reader), nodesWithAuthors, vars) // the reader's session state is cached from here on
		signedIn, signedInN := measure(t, a.as(reader), nodesWithAuthors, vars)
		t.Logf("nodes(20 posts) with authors: %d statements cold, %d warm, %d warm and signed in", coldN, warmN, signedInN)
		if coldN == 0 || warmN != 0 || signedInN != 0 {
			t.Fatalf("want statements on a cold cache and none on a warm one: cold %d, warm %d, signed in %d", coldN, warmN, signedInN)
		}
		if warm != cold || signedIn != cold {
			t.Fatalf("cached answers differ from the database's:\ncold %s\nwarm %s\nsigned in %s", cold, warm, signedIn)
		}
	})
}

// TestEntityCachePrivacy: the second level holds what everyone may see, so drafts and hidden posts
// stay private through it, and every write that changes what a viewer may see shows at once.
func TestEntityCachePrivacy(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada, mod := a.register(t, "ada"), a.register(t, "mod")
		a.setRole(t, mod, "MODERATOR")
		public := a.createPost(t, ada, map[string]any{"title": "Public", "tags": []any{"open"}, "publish": true})
		draft := a.createPost(t, ada, map[string]any{"title": "Draft", "tags": []any{"secret"}})
		var tags struct {
			Tags struct {
				Edges []struct{ Node struct{ ID, Name string } }
			}
		}
		a.as(ada).Do(t, `{ tags(first: 10) { edges { node { id name } } } }`, nil, &tags)
		tagID := map[string]string{}
		for _, e := range tags.Tags.Edges {
			tagID[e.Node.Name] = e.Node.ID
		}
		next := unusedID(t, draft.ID, 1) // the ID the next post will get

		const q = `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Post { title } ... on Tag { name } } }`
		titles := func(c testenv.GraphQL) string {
			t.Helper()
			r := c.Post(t, q, map[string]any{"ids": []string{public.ID, draft.ID, tagID["secret"], next}})
			for _, e := range r.Errors {
				if e.Code() != "NOT_FOUND" {
					t.Fatalf("nodes: %+v", r.Errors)
				}
			}
			return string(r.Data)
		}
		pub := fmt.Sprintf(`{"id":"%s","title":"Public"}`, public.ID)
		drf := fmt.Sprintf(`{"id":"%s","title":"Draft"}`, draft.ID)
		sec := fmt.Sprintf(`{"id":"%s","name":"secret"}`, tagID["secret"])
		want := func(c testenv.GraphQL, who string, nodes ...string) {
			t.Helper()
			w := `{"nodes":[`
			for i, n := range nodes {
				if i > 0 {
					w += ","
				}
				w += n
			}
			w += `]}`
			for range 2 { // as read, then as cached
				if got := titles(c); got != w {
					t.Fatalf("%s: want %s, got %s", who, w, got)
				}
			}
		}
		want(a.GraphQL, "anonymous", pub, "null", "null", "null")
		want(a.as(mod), "a moderator", pub, "null", "null", "null")
		want(a.as(ada), "the author", pub, drf, sec, "null")

		// A new post takes the ID cached as missing; publishing the draft shows it and its tag.
		fresh := a.createPost(t, ada, map[string]any{"title": "Fresh", "publish": true})
		if fresh.ID != next {
			t.Fatalf("the next post got ID %s, not %s", fresh.ID, next)
		}
		a.as(ada).Do(t, `mutation($id: ID!) { publishPost(input: {id: $id}) { post { id } } }`, map[string]any{"id": draft.ID}, nil)
		fr := fmt.Sprintf(`{"id":"%s","title":"Fresh"}`, next)
		want(a.GraphQL, "anonymous after publishing", pub, drf, sec, fr)

		// Hiding takes a post out of everyone's view but its author's and moderators'.
		a.as(mod).Do(t, `mutation($id: ID!) { hidePost(input: {id: $id}) { post { id } } }`, map[string]any{"id": public.ID}, nil)
		want(a.GraphQL, "anonymous after hiding", "null", drf, sec, fr)
		want(a.as(mod), "a moderator after hiding", pub, drf, sec, fr)
		want(a.as(ada), "the author after hiding", pub, drf, sec, fr)

		// Profile changes show at once.
		const name = `query($id: ID!) { node(id: $id) { ... on User { displayName } } }`
		var got struct{ Node struct{ DisplayName string } }
		a.Do(t, name, map[string]any{"id": ada.ID}, &got) // cached from here on
		a.as(ada).Do(t, `mutation { updateProfile(input: {displayName: "Ada L."}) { user { id } } }`, nil, nil)
		a.Do(t, name, map[string]any{"id": ada.ID}, &got)
		if got.Node.DisplayName != "Ada L." {
			t.Fatalf("after updateProfile, node(ada) has displayName %q", got.Node.DisplayName)
		}
	})
}

// TestMetrics: /metrics reports statements per request and the shared cache's hits and misses.
func TestMetrics(t *testing.T) {
	a := newAPI(t, "sqlite")
	ada := a.register(t, "ada")
	a.createPost(t, ada, map[string]any{"title": "Counted", "publish": true})
	for range 2 { // a miss, then a hit
		a.Do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": ada.ID}, nil)
	}
	res, err := http.Get(a.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	samples := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if name, value, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			samples[name], _ = strconv.ParseFloat(value, 64)
		}
	}
	for name, min := range map[string]float64{
		"agora_db_statements_per_request_count":      4, // register, createPost, two queries
		"agora_db_statements_per_request_sum":        1,
		`agora_cache_keys_total{result="hit"}`:       1,
		`agora_cache_keys_total{result="miss"}`:      1,
		`agora_cache_keys_total{result="collapsed"}`: 0,
		"go_goroutines": 1,
	} {
		if v, ok := samples[name]; !ok || v < min {
			t.Errorf("%s: want at least %v, got %v (present: %v)", name, min, v, ok)
		}
	}
}
