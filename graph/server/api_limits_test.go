package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestOperationLimits: operations built to exhaust the server are refused before anything runs,
// with OPERATION_LIMIT and the limit named; Agora's own pages pass.
func TestOperationLimits(t *testing.T) {
	a := newAPI(t, "sqlite")
	deep := "{ viewer { " + strings.Repeat("followers(first: 1) { edges { node { ", 5) + "id" + strings.Repeat(" } } }", 5) + " } }"
	aliases := "{ " + strings.Repeat("a%d: viewer { id } ", 31) + "}"
	aliases = fmt.Sprintf(aliases, seq(31)...)
	roots := "{ " + strings.Repeat("viewer { id } ", 21) + "}" // repeated without aliases: merged, yet each counts
	costly := `{ posts(first: 100) { edges { node { comments(first: 100) { edges { node { author { followers(first: 100) { totalCount } } } } } } } } }`
	// Each fragment spreads the next twice: 2^40 fields once expanded.
	var frags strings.Builder
	for i := range 40 {
		fmt.Fprintf(&frags, "fragment F%d on User { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	frags.WriteString("fragment F40 on User { id }\n")
	bomb := "{ viewer { ...F0 } }\n" + frags.String()
	for _, tc := range []struct{ name, query, limit string }{
		{"depth", deep, "depth"},
		{"aliases", aliases, "aliases"},
		{"root fields", roots, "rootFields"},
		{"cost", costly, "cost"},
		{"fragment expansion", bomb, "cost"},
	} {
		r := a.Post(t, tc.query, nil)
		if len(r.Errors) != 1 || r.Errors[0].Code() != "OPERATION_LIMIT" || r.Errors[0].Extensions["limit"] != tc.limit || r.Data != nil && string(r.Data) != "null" {
			t.Errorf("%s: want one OPERATION_LIMIT error naming %s, got %s %+v", tc.name, tc.limit, r.Data, r.Errors)
		}
	}
	huge := "{ " + strings.Repeat("__typename ", 16_000) + "}"
	if r := a.Post(t, huge, nil); len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "token") {
		t.Errorf("a 16,000-token document: want a token-limit error, got %+v", r.Errors)
	}

	// The feed page passes, and reports its cost when asked.
	reader := a.register(t, "reader")
	r := a.as(reader).PostExtensions(t, feedPage, map[string]any{"n": 20}, map[string]any{"cost": true})
	cost, _ := r.Extensions["cost"].(map[string]any)
	if len(r.Errors) > 0 || cost == nil || cost["requested"].(float64) < 100 || cost["requested"].(float64) > 1000 {
		t.Fatalf("feed page: want it to pass and report a cost between 100 and 1000, got %+v %v", r.Errors, r.Extensions)
	}
	t.Logf("feed page (first: 20) costs %v of %v", cost["requested"], cost["max"])
}

func seq(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestInputBounds: the cost model sees inputs — each value of an argument counts, a long string
// more, a nested input object 20 times its parent — and argument values stay within the input
// bounds whatever their input type, literal or variable; ordinary filters and long posts pass.
func TestInputBounds(t *testing.T) {
	a := newAPI(t, "sqlite")
	const filter = `query($w: PostFilter) { posts(first: 1, where: $w) { totalCount } }`
	costOf := func(query string, vars map[string]any) float64 {
		t.Helper()
		r := a.PostExtensions(t, query, vars, map[string]any{"cost": true})
		if len(r.Errors) > 0 {
			t.Fatalf("%s %v: %+v", query, vars, r.Errors)
		}
		cost, _ := r.Extensions["cost"].(map[string]any)
		return cost["requested"].(float64)
	}
	tagsOf := func(n int) map[string]any {
		tags := make([]any, n)
		for i := range tags {
			tags[i] = fmt.Sprint("word", i)
		}
		return map[string]any{"tags": tags}
	}
	// posts 1 + first 1 + totalCount 1, plus where: the object 1 and each value in it 1, a string
	// 1 more per 100 characters.
	for _, tc := range []struct {
		name  string
		where any
		cost  float64
	}{
		{"no filter", nil, 3 + 1},
		{"an author", map[string]any{"authorUsername": "ada"}, 3 + 1 + 1},
		{"a 32-character author", map[string]any{"authorUsername": strings.Repeat("x", 32)}, 3 + 1 + 1},
		{"two tags", tagsOf(2), 3 + 1 + 1 + 2},
		{"twenty tags", tagsOf(20), 3 + 1 + 1 + 20},
	} {
		if got := costOf(filter, map[string]any{"w": tc.where}); got != tc.cost {
			t.Errorf("%s: cost %v, want %v", tc.name, got, tc.cost)
		}
	}
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		code, field string
	}{
		{"101 tags", filter, map[string]any{"w": tagsOf(101)}, "BAD_USER_INPUT", "where.tags"},
		{"a 1,001-character author", filter, map[string]any{"w": map[string]any{"authorUsername": strings.Repeat("é", 1001)}}, "BAD_USER_INPUT", "where.authorUsername"},
		{"a 1,001-character literal", `{ user(username: "` + strings.Repeat("x", 1001) + `") { id } }`, nil, "BAD_USER_INPUT", "username"},
		{"a 1,001-character cursor", `query($c: Cursor) { posts(first: 1, after: $c) { totalCount } }`, map[string]any{"c": strings.Repeat("x", 1001)}, "BAD_USER_INPUT", "after"},
		{"1,001 IDs in a mutation", `mutation($ids: [ID!]) { markNotificationsRead(input: {ids: $ids}) { __typename } }`, map[string]any{"ids": slices.Repeat([]any{"1"}, 1001)}, "BAD_USER_INPUT", "ids"},
		{"a 100,001-character post", createPostMutation, map[string]any{"in": map[string]any{"title": "T", "body": strings.Repeat("b", 100_001)}}, "BAD_USER_INPUT", "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := a.Fail(t, tc.code, tc.field, tc.query, tc.vars)
			if tc.code == "BAD_USER_INPUT" && len(e.Path) == 0 {
				t.Errorf("no path to the field: %+v", e)
			}
		})
	}
}
