package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agora/agora/internal/database"
)

// leak matches what must never reach a client: driver, SQL and runtime text.
var leak = regexp.MustCompile(`(?i)sqlite|sqlstate|pgx|pq:|redis|goroutine \d|panic|runtime error|\.go:\d`)

// checkAnswer holds for every answer of /graphql, whatever was sent: no server error, and a
// GraphQL body whose errors each carry a message and a code, without internal text.
func checkAnswer(t *testing.T, what string, res *http.Response) {
	t.Helper()
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("%s: reading the answer: %v", what, err)
	}
	if res.StatusCode >= 500 {
		t.Fatalf("%s: status %d: %s", what, res.StatusCode, body)
	}
	if loc := leak.FindIndex(body); loc != nil {
		t.Fatalf("%s: the answer shows internal text %q: %s", what, body[loc[0]:loc[1]], body)
	}
	if !strings.Contains(res.Header.Get("Content-Type"), "json") {
		return // e.g. a 405 from the mux, or GraphiQL
	}
	var r struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: status %d, not a JSON object: %v: %s", what, res.StatusCode, err, body)
	}
	for _, e := range r.Errors {
		if code, _ := e.Extensions["code"].(string); e.Message == "" || code == "" {
			t.Fatalf("%s: status %d, an error without a message or code: %s", what, res.StatusCode, body)
		}
	}
}

// fuzzAPI is one Agora on SQLite for a fuzz target's inputs.
func fuzzAPI(f *testing.F) *api {
	db := openDB(f, database.Options{SQLitePath: filepath.Join(f.TempDir(), "agora.db")})
	if _, err := db.Migrate(f.Context()); err != nil {
		f.Fatal(err)
	}
	return startAPI(f, db, nil)
}

// FuzzPost sends arbitrary bodies with arbitrary content types to POST /graphql.
// Seeds: testdata/fuzz/FuzzPost. More: go test -run '^$' -fuzz FuzzPost -fuzztime 1m ./graph/server
func FuzzPost(f *testing.F) {
	a := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		if strings.ContainsFunc(contentType, func(r rune) bool { return r < ' ' || r > '~' }) {
			t.Skip() // not a header a client can send
		}
		req, err := http.NewRequest(http.MethodPost, a.URL, bytes.NewReader(body))
		if err != nil {
			t.Skip() // not a request a client can send
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", "application/graphql-response+json, application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		checkAnswer(t, "POST "+contentType, res)
	})
}

// FuzzOperation sends arbitrary documents, variables and operation names, over POST and GET.
// Seeds: testdata/fuzz/FuzzOperation. More: go test -run '^$' -fuzz FuzzOperation -fuzztime 1m ./graph/server
func FuzzOperation(f *testing.F) {
	a := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, query, variables, operationName string) {
		params := map[string]any{"query": query, "variables": json.RawMessage(variables), "operationName": operationName}
		if !json.Valid([]byte(variables)) {
			params["variables"] = variables // a string where an object belongs
		}
		body, err := json.Marshal(params)
		if err != nil {
			t.Skip()
		}
		res, err := http.Post(a.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		checkAnswer(t, "POST", res)

		q := url.Values{"query": {query}, "variables": {variables}, "operationName": {operationName}}
		req, err := http.NewRequest(http.MethodGet, a.URL+"?"+q.Encode(), nil)
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Accept", "application/json")
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		checkAnswer(t, "GET", res)
	})
}
