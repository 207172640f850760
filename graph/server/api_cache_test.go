package server_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
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

// TestMetrics: after a few operations (queries, mutations, failing ones, a subscription over
// WebSocket), /metrics reports each series with the values those operations give.
func TestMetrics(t *testing.T) {
	db := openDB(t, database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPIWith(t, db, nil, func(c *config.Config) { c.RateLimits.SignUpsPerIP = budget(t, "2/1h") }) // the third sign-up is refused
	signUp := `mutation SignUp($in: RegisterInput!) { register(input: $in) { accessToken user { id } } }`
	var ada, bob struct {
		Register struct {
			AccessToken string
			User        struct{ ID string }
		}
	}
	for name, out := range map[string]any{"ada": &ada, "bob": &bob} {
		a.Do(t, signUp, map[string]any{"in": map[string]any{"username": name, "email": name + "@example.com", "password": "password-" + name}}, out)
	}
	a.Fail(t, "RATE_LIMITED", "", signUp, map[string]any{"in": map[string]any{"username": "cyd", "email": "cyd@example.com", "password": "password-cyd"}})
	adaC := a.GraphQL.As(ada.Register.AccessToken)
	adaC.Do(t, createPostMutation, map[string]any{"in": map[string]any{"title": "Counted", "publish": true}}, nil)
	for range 2 { // a miss, then a hit
		a.Do(t, `query Node($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": ada.Register.User.ID}, nil)
	}
	a.Do(t, `query Feed { posts(first: 5) { edges { node { likeCount author { username } } } } }`, nil, nil)
	a.Fail(t, "UNAUTHENTICATED", "", `mutation Publish { createPost(input: {title: "no"}) { post { id } } }`, nil)

	// A subscription over WebSocket, open while we scrape, counted at its first event.
	s := adaC.Subscribe(t, testenv.TransportWS, `subscription Notifications { notificationAdded { kind } }`, nil)
	for start := time.Now(); a.live.Stats().Active < 1; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the subscription did not start")
		}
	}
	a.GraphQL.As(bob.Register.AccessToken).Do(t, `mutation Follow($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`,
		map[string]any{"id": ada.Register.User.ID}, nil)
	if _, ok := s.Next(t, 10*time.Second); !ok {
		t.Fatal("no notification")
	}

	samples := testenv.Scrape(t, a.srv.URL+"/metrics")
	for name, want := range map[string][2]float64{ // at least, at most
		"agora_db_statements_per_request_count":      {8, 100},
		"agora_db_statements_per_request_sum":        {8, 1000},
		`agora_cache_keys_total{result="hit"}`:       {1, 100},
		`agora_cache_keys_total{result="miss"}`:      {1, 100},
		`agora_cache_keys_total{result="collapsed"}`: {0, 0},
		"go_goroutines": {1, 10000},

		`agora_graphql_requests_total{operation="SignUp",outcome="ok",type="mutation"}`:            {2, 2},
		`agora_graphql_requests_total{operation="SignUp",outcome="client_error",type="mutation"}`:  {1, 1},
		`agora_graphql_requests_total{operation="Node",outcome="ok",type="query"}`:                 {2, 2},
		`agora_graphql_requests_total{operation="Feed",outcome="ok",type="query"}`:                 {1, 1},
		`agora_graphql_requests_total{operation="anonymous",outcome="ok",type="mutation"}`:         {1, 1}, // createPost
		`agora_graphql_requests_total{operation="Publish",outcome="client_error",type="mutation"}`: {1, 1},
		`agora_graphql_requests_total{operation="Notifications",outcome="ok",type="subscription"}`: {1, 1},
		`agora_graphql_requests_total{operation="Follow",outcome="ok",type="mutation"}`:            {1, 1},
		`agora_graphql_errors_total{code="RATE_LIMITED"}`:                                          {1, 1},
		`agora_graphql_errors_total{code="UNAUTHENTICATED"}`:                                       {1, 1},
		`agora_graphql_duration_seconds_count{operation="Node",type="query"}`:                      {2, 2},
		`agora_graphql_duration_seconds_bucket{operation="Feed",type="query",le="+Inf"}`:           {1, 1},
		`agora_graphql_duration_seconds_sum{operation="Feed",type="query"}`:                        {1e-6, 10},
		`agora_http_request_duration_seconds_count{method="POST",route="/graphql",status="2xx"}`:   {9, 9}, // the queries and mutations above
		`agora_loader_batch_keys_count{loader="LikeCountByPost"}`:                                  {1, 1},
		`agora_loader_batch_keys_sum{loader="LikeCountByPost"}`:                                    {1, 1}, // one post
		"agora_websocket_connections":                                                              {1, 1},
		"agora_subscriptions_active":                                                               {1, 1},
		"agora_subscriptions_started_total":                                                        {1, 1},
		`agora_rate_limit_refusals_total{budget="register"}`:                                       {1, 1},
		"agora_db_pool_max_connections":                                                            {8, 8},
		"agora_db_pool_open_connections":                                                           {1, 8},
		"agora_db_pool_in_use_connections":                                                         {0, 8},
		"agora_db_pool_waits_total":                                                                {0, 1e6},
	} {
		if v, ok := samples[name]; !ok || v < want[0] || v > want[1] {
			t.Errorf("%s: want %v..%v, got %v (present: %v)", name, want[0], want[1], v, ok)
		}
	}

	// The socket's end shows.
	s.Close()
	for start := time.Now(); testenv.Scrape(t, a.srv.URL+"/metrics")["agora_websocket_connections"] != 0; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the closed socket is still counted")
		}
	}
	if n := testenv.Scrape(t, a.srv.URL+"/metrics")[`agora_http_request_duration_seconds_count{method="GET",route="/graphql",status="1xx"}`]; n != 1 {
		t.Errorf("the socket's request: %v", n)
	}
}
