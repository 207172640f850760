package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWriteError: a refusal is a GraphQL response with one coded error, never cached, in the media
// type the client accepts, keeping the headers the refuser set.
func TestWriteError(t *testing.T) {
	for _, tc := range []struct{ accept, contentType string }{
		{"", "application/json; charset=utf-8"},
		{"application/json", "application/json; charset=utf-8"},
		{"application/graphql-response+json, application/json;q=0.9", "application/graphql-response+json; charset=utf-8"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Header.Set("Accept", tc.accept)
		w := httptest.NewRecorder()
		w.Header().Set("Retry-After", "7")
		WriteError(w, r, http.StatusTooManyRequests, "RATE_LIMITED", `too many "requests"`, map[string]any{"retryAfterSeconds": 7, "code": "NOT_THIS"})
		res := w.Result()
		var body struct {
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Content-Type") != tc.contentType ||
			res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Retry-After") != "7" {
			t.Errorf("Accept %q: %d %v", tc.accept, res.StatusCode, res.Header)
		}
		if len(body.Errors) != 1 || body.Errors[0].Message != `too many "requests"` ||
			body.Errors[0].Extensions["code"] != "RATE_LIMITED" || body.Errors[0].Extensions["retryAfterSeconds"] != 7.0 {
			t.Errorf("Accept %q: body %+v", tc.accept, body)
		}
	}
}
