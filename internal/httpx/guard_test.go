package httpx

import (
	"net/http/httptest"
	"testing"
)

// TestOriginAllowed: origins are compared with their scheme. A bare host pattern allows https
// pages (and http ones on this machine's own names); a pattern with a scheme allows that scheme.
func TestOriginAllowed(t *testing.T) {
	patterns := []string{"app.example.com", "*.example.org", "http://localhost:5173", "localhost:3000"}
	for origin, want := range map[string]bool{
		"https://app.example.com":  true,
		"http://app.example.com":   false, // the scheme counts: a page anyone on the path could write
		"https://eu.example.org":   true,
		"http://eu.example.org":    false,
		"https://evil.example.com": false,
		"http://localhost:5173":    true,
		"https://localhost:5173":   false,
		"http://localhost:3000":    true, // a bare pattern on this machine's own name: http is allowed
		"https://localhost:3000":   true,
		"ftp://app.example.com":    false,
		"null":                     false,
	} {
		r := httptest.NewRequest("GET", "http://api.example.net/graphql", nil)
		r.Header.Set("Origin", origin)
		if got := OriginAllowed(patterns, r); got != want {
			t.Errorf("%s: allowed %t, want %t", origin, got, want)
		}
	}
	same := httptest.NewRequest("GET", "http://api.example.net/graphql", nil)
	same.Header.Set("Origin", "https://api.example.net")
	if !OriginAllowed(nil, same) {
		t.Error("the API's own host must be allowed")
	}
}
