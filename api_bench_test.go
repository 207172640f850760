package main

import (
	"fmt"
	"testing"
)

// BenchmarkFeedPage serves the feed page (20 posts with author, tags, 3 comments with authors,
// counts and viewer flags) over real HTTP on PostgreSQL, one request at a time: the server's CPU
// and allocations per page, without the load generator and database competing for the cores.
//
//	go test -run '^$' -bench FeedPage -benchmem -cpuprofile cpu.out .
func BenchmarkFeedPage(b *testing.B) {
	a := newAPI(b, "postgres")
	reader := a.register(b, "reader")
	authors := make([]user, 5)
	for i := range authors {
		authors[i] = a.register(b, fmt.Sprintf("author%d", i))
		a.as(reader).Do(b, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": authors[i].ID}, nil)
	}
	seedFeed(b, a, authors, reader, 60)
	c := a.as(reader)
	vars := map[string]any{"n": 20}
	var statements float64
	for b.Loop() {
		r := c.Post(b, feedPage, vars)
		if len(r.Errors) > 0 {
			b.Fatalf("feed: %+v", r.Errors)
		}
		statements, _ = r.Extensions["dbStatements"].(float64)
	}
	b.ReportMetric(statements, "statements/op")
}
