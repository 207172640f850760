package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The same posts page in Agora's schema and in PostGraphile's has the same digest; a different
// comment or tag does not.
func TestPostsPageDigest(t *testing.T) {
	agora := `{"posts":{"pageInfo":{"hasNextPage":true,"endCursor":"x"},"edges":[{"node":{"id":"7","title":"T","createdAt":"2025-01-01T00:00:00Z",
	  "author":{"id":"3","username":"ann"},"comments":{"edges":[{"node":{"id":"10","body":"b","author":{"username":"bob"}}},{"node":{"id":"11","body":"c","author":{"username":"bob"}}}],"pageInfo":{"hasNextPage":false}},
	  "tags":[{"name":"go"},{"name":"sql"}]}}]}}`
	peer := `{"allPosts":{"pageInfo":{"hasNextPage":true,"endCursor":"y"},"edges":[{"node":{"rowId":"7","title":"T","createdAt":"2025-01-01T00:00:00.000000+00:00",
	  "userByAuthorId":{"rowId":"3","username":"ann"},"commentsByPostId":{"edges":[{"node":{"rowId":"10","body":"b","userByAuthorId":{"username":"bob"}}},{"node":{"rowId":"11","body":"c","userByAuthorId":{"username":"bob"}}}],"pageInfo":{"hasNextPage":false}},
	  "postTagsByPostId":{"nodes":[{"tagByTagId":{"name":"sql"}},{"tagByTagId":{"name":"go"}}]}}}]}}`
	a, p := postsPageDigest([]byte(agora), "posts"), postsPageDigest([]byte(peer), "allPosts")
	if a != p {
		t.Fatalf("digests differ:\n%s\n%s", a, p)
	}
	if !strings.Contains(a, `7 "T" by 3ann [ 10 11 ] [go sql]`) {
		t.Errorf("digest %q does not list the post", a)
	}
	for _, changed := range []string{
		strings.Replace(peer, `"rowId":"11"`, `"rowId":"12"`, 1),
		strings.Replace(peer, `"name":"sql"`, `"name":"rust"`, 1),
		strings.Replace(peer, `"hasNextPage":true`, `"hasNextPage":false`, 1),
	} {
		if postsPageDigest([]byte(changed), "allPosts") == a {
			t.Errorf("a different page has the same digest: %s", changed)
		}
	}
}

// The CPU time of PostgreSQL's processes over a run: those that exited (the previous server's
// connections) drop out instead of making it negative; those that started count from zero.
func TestCPUSince(t *testing.T) {
	before := cpuByPID{1: 5, 2: 40, 3: 1}
	now := cpuByPID{1: 6, 3: 1.5, 4: 2} // 2 exited, 4 started
	if got := now.since(before); got != 3.5 {
		t.Errorf("since = %v, want 3.5", got)
	}
}

// scrape reads series with and without labels, histogram sums and counts included, and skips
// comments.
func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`# HELP go_memstats_mallocs_total Total number of heap objects allocated.
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total 1.234567e+06
agora_cache_keys_total{result="hit"} 42
agora_db_statements_per_request_bucket{le="+Inf"} 5
agora_db_statements_per_request_sum 35
agora_db_statements_per_request_count 5
`))
	}))
	defer srv.Close()
	m := scrape(srv.URL)
	for series, want := range map[string]float64{
		"go_memstats_mallocs_total":             1234567,
		`agora_cache_keys_total{result="hit"}`:  42,
		"agora_db_statements_per_request_sum":   35,
		"agora_db_statements_per_request_count": 5,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present: %t), want %v", series, got, ok, want)
		}
	}
	if scrape("") != nil {
		t.Error("scrape of no address is not nil")
	}
}
