package server_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"
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
	cpu0 := cpuTime()
	for b.Loop() {
		r := c.Post(b, feedPage, vars)
		if len(r.Errors) > 0 {
			b.Fatalf("feed: %+v", r.Errors)
		}
		statements, _ = r.Extensions["dbStatements"].(float64)
	}
	b.ReportMetric(statements, "statements/op")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the CPU time this process used so far: unlike ns/op, it does not count waiting for
// the database or for other processes on the machine. (It includes the client's share.)
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
