package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/agora/agora/graph/generated"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/testenv"
)

// worstDocument is a family of documents built to make gqlparser's validation slow, and the
// largest n of the family that the validation bounds accept (bounded: n+1 is refused; tokens:
// the token limit is reached first).
type worstDocument struct {
	name      string
	doc       func(n int) string
	n         int
	bounded   bool   // n+1 is refused with OPERATION_LIMIT
	operation string // the operation to run, when the document has several
}

func repeat(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
	}
	return b.String()
}

// worstDocuments are the documents that cost validation most within the bounds
// (graph/server/validation.go), one per way of making it work: repeated fields (quadratic),
// fields against fragments (cubic), fragments against fragments, inline fragments in inline
// fragments, many operations sharing a fragment; and, bounded by the token limit alone, the
// largest flat, deep, variable, literal, fragment and directive documents.
var worstDocuments = []worstDocument{
	{name: "repeated fields", n: 141, bounded: true, doc: func(n int) string {
		return "{ posts(first: 1) { totalCount " + strings.Repeat("__typename ", n) + "} }"
	}},
	{name: "fields against a fragment", n: 10, bounded: true, doc: func(n int) string {
		return "{ " + strings.Repeat("viewer { id ...F } ", n) + "} fragment F on User { " + strings.Repeat("id ", n) + "}"
	}},
	{name: "repeated parents of distinct fields", n: 21, bounded: true, doc: func(n int) string {
		return "{ " + repeat(n, func(i int) string {
			return "viewer { " + repeat(n, func(j int) string { return fmt.Sprintf("a%d_%d: id ", i, j) }) + "} "
		}) + "}"
	}},
	{name: "repeated fields under repeated parents", n: 8, bounded: true, doc: func(n int) string {
		return "{ " + strings.Repeat("viewer { "+strings.Repeat("followers(first: 1) { totalCount } ", n)+"} ", n) + "}"
	}},
	{name: "fragments spread side by side", n: 100, bounded: true, doc: func(n int) string {
		return "{ viewer { " + repeat(n, func(i int) string { return fmt.Sprintf("...F%d ", i) }) + "} } " +
			repeat(n, func(i int) string { return fmt.Sprintf("fragment F%d on User { a%d: id } ", i, i) })
	}},
	{name: "overlapping fragments side by side", n: 71, bounded: true, doc: func(n int) string {
		return "{ viewer { " + repeat(n, func(i int) string { return fmt.Sprintf("...F%d ", i) }) + "} } " +
			repeat(n, func(i int) string { return fmt.Sprintf("fragment F%d on User { id username } ", i) })
	}},
	{name: "inline fragments in inline fragments", n: 98, bounded: true, doc: func(n int) string {
		return "{ viewer { " + strings.Repeat("... on User { ", n) + "id id id " + strings.Repeat("} ", n) + "} }"
	}},
	{name: "repeated fields in nested inline fragments", n: 27, bounded: true, doc: func(n int) string {
		return "{ viewer { " + strings.Repeat("... on User { ", n) + strings.Repeat("id ", n) + strings.Repeat("} ", n) + "} }"
	}},
	{name: "operations sharing a fragment", n: 99, bounded: true, operation: "Q0", doc: func(n int) string {
		return repeat(n, func(i int) string { return fmt.Sprintf("query Q%d { ...F } ", i) }) +
			"fragment F on Query { " + repeat(n, func(j int) string { return fmt.Sprintf("a%d: __typename ", j) }) + "}"
	}},
	{name: "repeated fields with every argument", n: 71, bounded: true, doc: func(n int) string {
		return "{ " + strings.Repeat(`posts(first: 1, last: 1, after: "a", before: "b", orderBy: {field: CREATED_AT, direction: ASC}) { totalCount } `, n) + "}"
	}},
	{name: "distinct fields (token limit)", n: 4999, doc: func(n int) string {
		return "{ " + repeat(n, func(i int) string { return fmt.Sprintf("a%d: __typename ", i) }) + "}"
	}},
	{name: "nested fields (token limit)", n: 882, doc: func(n int) string {
		return "{ " + strings.Repeat("viewer { followers(first: 1) { edges { node { ", n) + "id" + strings.Repeat(" } } } }", n) + " }"
	}},
	{name: "variables (token limit)", n: 937, doc: func(n int) string {
		return "query(" + repeat(n, func(i int) string { return fmt.Sprintf("$v%d: Int ", i) }) + ") { " +
			repeat(n, func(i int) string { return fmt.Sprintf("a%d: posts(first: $v%d) { totalCount } ", i, i) }) + "}"
	}},
	{name: "an input literal (token limit)", n: 999, doc: func(n int) string {
		return `{ _entities(representations: [` + strings.Repeat(`{__typename: "Post", id: "1"} `, n) + `]) { __typename } }`
	}},
	{name: "fragments apart (token limit)", n: 1071, doc: func(n int) string {
		return "{ " + repeat(n, func(i int) string { return fmt.Sprintf("a%d: viewer { ...F%d } ", i, i) }) + "} " +
			repeat(n, func(i int) string { return fmt.Sprintf("fragment F%d on User { id } ", i) })
	}},
	{name: "directives (token limit)", n: 2142, doc: func(n int) string {
		return "{ viewer { id " + strings.Repeat("@skip(if: false) ", n) + "} }"
	}},
}

// validationLimits are the limits the validation bounds answer with.
var validationLimits = map[string]bool{"selections": true, "overlaps": true, "arguments": true}

// TestValidationBounds: documents whose validation would take seconds (gqlparser's
// OverlappingFieldsCanBeMerged is quadratic in repeated fields, cubic with fragments) are refused
// with OPERATION_LIMIT before validation, and the worst documents within the bounds pass them
// (BenchmarkValidationWorst times their validation).
func TestValidationBounds(t *testing.T) {
	a := newAPI(t, "sqlite")
	limitOf := func(query, operation string) (string, testenv.Response) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "operationName": operation})
		res, raw := send(t, http.MethodPost, a.URL, string(body), jsonHeaders)
		var r testenv.Response
		_ = json.Unmarshal(raw, &r)
		r.Status = res.StatusCode
		for _, e := range r.Errors {
			if l, _ := e.Extensions["limit"].(string); validationLimits[l] {
				return l, r
			}
		}
		return "", r
	}
	for _, w := range worstDocuments {
		t.Run(w.name, func(t *testing.T) {
			doc := w.doc(w.n)
			if _, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: doc}, 15_000); err != nil {
				t.Fatalf("the worst document does not parse within the token limit: %v", err)
			}
			if limit, r := limitOf(doc, w.operation); limit != "" {
				t.Errorf("n=%d: refused on %s, want it within the bounds: %+v", w.n, limit, r.Errors)
			}
			if w.bounded {
				// A request error: 200 with application/json (GraphQL over HTTP), 400 with its own type.
				if limit, r := limitOf(w.doc(w.n+1), w.operation); limit == "" || r.Status != http.StatusOK && r.Status != http.StatusBadRequest {
					t.Errorf("n=%d: want OPERATION_LIMIT on selections, overlaps or arguments, got %d %+v", w.n+1, r.Status, r.Errors)
				}
			}
		})
	}

	// The documents of the attacks: each refused at once, whatever its first field.
	attacks := []struct{ name, query, limit string }{
		{"15,000 repeated fields (165 KB)", "{ posts(first: 1) { totalCount " + strings.Repeat("__typename ", 14_980) + "} }", "selections"},
		{"300 fields against a fragment of 300", "{ " + strings.Repeat("viewer { id ...F } ", 300) + "} fragment F on User { " + strings.Repeat("id ", 300) + "}", "overlaps"},
		{"1,200 fragments side by side", worstDocuments[4].doc(1_200), "overlaps"},
		{"2,900 nested inline fragments", "{ viewer { " + strings.Repeat("... on User { ", 2_900) + "id" + strings.Repeat(" }", 2_900) + " } }", "selections"},
		{"a field with 7 arguments, repeated", "{ " + strings.Repeat(`posts(first: 1, last: 1, after: "a", before: "b", where: {}, orderBy: {field: CREATED_AT, direction: ASC}, x: 1) { totalCount } `, 2) + "}", "arguments"},
	}
	for _, at := range attacks {
		if limit, r := limitOf(at.query, ""); limit != at.limit || len(r.Errors) != 1 {
			t.Errorf("%s: want one OPERATION_LIMIT on %s, got %d %+v", at.name, at.limit, r.Status, r.Errors)
		}
	}

	// A fragment cycle is refused as validation refuses it (the bounds cannot measure it).
	if r := a.Post(t, "{ viewer { ...A } } fragment A on User { ...B } fragment B on User { friend: viewer { ...A } }", nil); len(r.Errors) != 1 || r.Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("fragment cycle: want GRAPHQL_VALIDATION_FAILED, got %+v", r.Errors)
	}
}

// TestValidationBoundsAfterDocumentChoice: the bounds measure the document that would run, after
// a trusted-documents manifest or automatic persisted queries resolved its id, not the request's
// text.
func TestValidationBoundsAfterDocumentChoice(t *testing.T) {
	quadratic := "{ posts(first: 1) { totalCount " + strings.Repeat("__typename ", 5_000) + "} }"
	manifest := filepath.Join(t.TempDir(), "manifest.json")
	b, _ := json.Marshal(map[string]string{sha256Hex(quadratic): quadratic, sha256Hex(trustedTypename): trustedTypename})
	if err := os.WriteFile(manifest, b, 0o600); err != nil {
		t.Fatal(err)
	}
	trusted := sqliteAPI(t, func(c *config.Config) { c.GraphQL.TrustedDocuments = manifest })
	res, body := send(t, http.MethodPost, trusted.URL, `{"documentId": "`+sha256Hex(quadratic)+`"}`, jsonHeaders)
	wantRefusal(t, "trusted document by id", res, body, http.StatusOK, "OPERATION_LIMIT") // application/json: 200, as GraphQL over HTTP says
	res, body = send(t, http.MethodPost, trusted.URL, `{"documentId": "`+sha256Hex(trustedTypename)+`"}`, jsonHeaders)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"__typename":"Query"`) {
		t.Errorf("a trusted document within the bounds: got %d %s", res.StatusCode, body)
	}

	a := newAPI(t, "sqlite")
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(quadratic)}}
	r := a.PostExtensions(t, quadratic, nil, ext)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "OPERATION_LIMIT" {
		t.Errorf("APQ registration of an oversized document: want OPERATION_LIMIT, got %+v", r.Errors)
	}
	// By hash alone it is unknown or refused, never validated.
	r = a.PostExtensions(t, "", nil, ext)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "OPERATION_LIMIT" && r.Errors[0].Code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("APQ hash of an oversized document: want OPERATION_LIMIT or PERSISTED_QUERY_NOT_FOUND, got %+v", r.Errors)
	}
}

// BenchmarkValidationWorst times gqlparser's validation, with gqlgen's rules, of the worst
// documents the validation bounds accept (and of the 165 KB document of repeated fields they
// refuse, for scale, at a tenth of its size): what one request within the limits can make the
// server spend before any operation limit or timeout applies.
//
//	go test -run '^$' -bench ValidationWorst -benchtime 20x ./graph/server
func BenchmarkValidationWorst(b *testing.B) {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	docs := append(worstDocuments[:len(worstDocuments):len(worstDocuments)], worstDocument{
		name: "refused: 1,500 repeated fields", n: 1_500, doc: worstDocuments[0].doc,
	})
	for _, w := range docs {
		query := w.doc(w.n)
		b.Run(strings.ReplaceAll(w.name, " ", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(query)))
			for b.Loop() {
				doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, 15_000)
				if err != nil {
					b.Fatal(err)
				}
				validator.ValidateWithRules(schema, doc, rules.NewDefaultRules())
			}
		})
	}
}

// BenchmarkRefusals sends, over real HTTP, the requests of the attacks the limits refuse before
// anything runs, and reports the process's CPU time per refusal (server and client: parsing,
// the variables' coercion, the bounds' walks): what refusing one costs.
//
//	go test -run '^$' -bench Refusals -benchtime 20x ./graph/server
func BenchmarkRefusals(b *testing.B) {
	a := newAPI(b, "sqlite")
	filter := `query($w: PostFilter) { posts(first: 20, where: $w) { totalCount } }`
	tagsOf := func(n int) map[string]any {
		tags := make([]any, n)
		for i := range tags {
			tags[i] = fmt.Sprint("w", i)
		}
		return map[string]any{"tags": tags}
	}
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		code        string
	}{
		{"165 KB of repeated fields", "{ posts(first: 1) { totalCount " + strings.Repeat("__typename ", 14_980) + "} }", nil, "OPERATION_LIMIT"},
		{"cubic fragments", "{ " + strings.Repeat("viewer { id ...F } ", 300) + "} fragment F on User { " + strings.Repeat("id ", 300) + "}", nil, "OPERATION_LIMIT"},
		{"900 KB filter string", filter, map[string]any{"w": map[string]any{"authorUsername": strings.Repeat("x", 900_000)}}, "BAD_USER_INPUT"},
		{"2,000 tags", filter, map[string]any{"w": tagsOf(2_000)}, "BAD_USER_INPUT"},
		{"30,000 tags", filter, map[string]any{"w": tagsOf(30_000)}, "BAD_USER_INPUT"},
	} {
		b.Run(strings.ReplaceAll(tc.name, " ", "_"), func(b *testing.B) {
			cpu0 := testenv.CPUTime()
			for b.Loop() {
				r := a.Post(b, tc.query, tc.vars)
				if len(r.Errors) != 1 || r.Errors[0].Code() != tc.code {
					b.Fatalf("want %s, got %+v", tc.code, r.Errors)
				}
			}
			testenv.ReportCPU(b, cpu0)
		})
	}
}
