package server_test

import (
	"fmt"
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
