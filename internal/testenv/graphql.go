package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// GraphQL is a client for a GraphQL-over-HTTP endpoint, signed in when Token is set.
type GraphQL struct {
	URL   string
	Token string
}

// As returns a copy of the client that sends token.
func (c GraphQL) As(token string) GraphQL { c.Token = token; return c }

// Response is a GraphQL response.
type Response struct {
	Status     int
	Data       json.RawMessage `json:"data"`
	Errors     []Error         `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Field is the error's extensions.field.
func (e Error) Field() string { s, _ := e.Extensions["field"].(string); return s }

// Post sends a query with variables and decodes the response, whatever it holds.
func (c GraphQL) Post(t testing.TB, query string, vars map[string]any) Response {
	t.Helper()
	return c.PostExtensions(t, query, vars, nil)
}

// PostExtensions is Post with the request's extensions.
func (c GraphQL) PostExtensions(t testing.TB, query string, vars, extensions map[string]any) Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars, "extensions": extensions})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	return c.send(t, req)
}

// Do sends a query that must succeed and decodes its data into out (when not nil).
func (c GraphQL) Do(t testing.TB, query string, vars map[string]any, out any) {
	t.Helper()
	r := c.Post(t, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v\nquery: %s", r.Errors, query)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("decode %s: %v", r.Data, err)
		}
	}
}

// Fail sends a query that must fail with one error of the given code (and, when field is not
// empty, that extensions.field), and returns the error.
func (c GraphQL) Fail(t testing.TB, code, field, query string, vars map[string]any) Error {
	t.Helper()
	r := c.Post(t, query, vars)
	if len(r.Errors) != 1 {
		t.Fatalf("want one %s error, got %+v (data %s)\nquery: %s", code, r.Errors, r.Data, query)
	}
	e := r.Errors[0]
	if e.Code() != code || (field != "" && e.Field() != field) {
		t.Fatalf("want code %s field %q, got %s %q: %s", code, field, e.Code(), e.Field(), e.Message)
	}
	if code != "INTERNAL_SERVER_ERROR" && strings.Contains(strings.ToLower(e.Message), "sql") {
		t.Fatalf("error message leaks database details: %q", e.Message)
	}
	return e
}

// Scrape reads the samples at url, by series (name and labels as Prometheus prints them).
func Scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url)
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
	return samples
}

// Upload sends query by the GraphQL multipart request spec (as Apollo's upload link and curl -F
// do), with content as the file at the variable path (e.g. "variables.in.file"), and the
// GraphQL-Require-Preflight header that CSRF prevention asks of multipart requests.
func (c GraphQL) Upload(t testing.TB, query string, vars map[string]any, path, filename string, content []byte) Response {
	t.Helper()
	return c.UploadWith(t, query, vars, path, filename, content, http.Header{"Graphql-Require-Preflight": {"1"}})
}

// UploadWith is Upload with header instead of the preflight header.
func (c GraphQL) UploadWith(t testing.TB, query string, vars map[string]any, path, filename string, content []byte, header http.Header) Response {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	ops, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	_ = w.WriteField("operations", string(ops))
	_ = w.WriteField("map", `{"0": [`+strconv.Quote(path)+`]}`)
	part, err := w.CreateFormFile("0", filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(content)
	_ = w.Close()
	req, err := http.NewRequest(http.MethodPost, c.URL, &body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.send(t, req)
}

// send does req with the client's token and decodes the response, whatever it holds.
func (c GraphQL) send(t testing.TB, req *http.Request) Response {
	t.Helper()
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", res.StatusCode, err, raw)
	}
	r.Status = res.StatusCode
	return r
}
