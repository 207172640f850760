package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// Fault tests stop and start the real Redis and PostgreSQL under a stream of writes through the
// HTTP handler, then check that every write the API acknowledged is in the database and that
// writes succeed again once the server is back.

// writes is what a stream of writes saw: the IDs of the posts and comments acknowledged (answered
// without errors) and the codes of the errors.
type writes struct {
	mu                sync.Mutex
	posts, comments   []int
	errors            map[string]int
	okSince, errSince int           // acknowledged and failed since the last mark
	slowest           time.Duration // the longest a write took to be answered
}

func (w *writes) snapshot() (ok, failed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.okSince, w.errSince
}

func (w *writes) mark() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.okSince, w.errSince = 0, 0
}

// faultClient bounds every request: a hang fails the test instead of holding it up.
var faultClient = &http.Client{Timeout: 30 * time.Second}

// postBounded sends one operation as token and decodes the answer, whatever its status.
func postBounded(t *testing.T, url, token, query string, vars map[string]any) (testenv.Response, string, error) {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := faultClient.Do(req)
	if err != nil {
		return testenv.Response{}, "", err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r testenv.Response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Errorf("answer %d is not JSON: %s", res.StatusCode, raw)
	}
	r.Status = res.StatusCode
	return r, string(raw), nil
}

// streamWrites creates posts and comments on onPost as u, one after another, until ctx ends.
func streamWrites(ctx context.Context, t *testing.T, a *api, u user, onPost string, w *writes) {
	for i := 0; ctx.Err() == nil; i++ {
		query, vars, path := `mutation($in: CreatePostInput!) { createPost(input: $in) { post { id } } }`,
			map[string]any{"in": map[string]any{"title": "Fault " + strconv.Itoa(i), "tags": []any{"fault"}, "publish": true}}, "createPost"
		if i%2 == 1 {
			query, vars, path = `mutation($in: AddCommentInput!) { addComment(input: $in) { comment { id } } }`,
				map[string]any{"in": map[string]any{"postID": onPost, "body": "comment " + strconv.Itoa(i)}}, "addComment"
		}
		start := time.Now()
		r, raw, err := postBounded(t, a.GraphQL.URL, u.Token, query, vars)
		if err != nil {
			t.Errorf("write %d: %v", i, err) // a hang or a dropped connection, not an answer
			return
		}
		took := time.Since(start)
		w.mu.Lock()
		w.slowest = max(w.slowest, took)
		if len(r.Errors) == 0 {
			var data map[string]map[string]struct{ ID string }
			_ = json.Unmarshal(r.Data, &data)
			var id int
			for _, v := range data[path] {
				id, _ = strconv.Atoi(v.ID)
			}
			if id == 0 {
				t.Errorf("write %d acknowledged without an ID: %s", i, raw)
			} else if path == "createPost" {
				w.posts = append(w.posts, id)
			} else {
				w.comments = append(w.comments, id)
			}
			w.okSince++
		} else {
			for _, e := range r.Errors {
				w.errors[e.Code()]++
			}
			w.errSince++
			if lower := strings.ToLower(raw); strings.Contains(lower, "sql") || strings.Contains(lower, "pgx") ||
				strings.Contains(lower, "dial") || strings.Contains(lower, "redis") || strings.Contains(lower, "eof") {
				t.Errorf("write %d: the answer leaks driver text: %s", i, raw)
			}
		}
		w.mu.Unlock()
	}
}

// waitUntil polls cond; the bound is a guard against hanging, not a speed check.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for ; !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
	t.Logf("%s: %v", what, time.Since(start))
}

// wantStored checks that every acknowledged write is in the database.
func wantStored(t *testing.T, db *database.DB, w *writes) {
	t.Helper()
	for table, ids := range map[string][]int{"posts": w.posts, "comments": w.comments} {
		stored := map[int]bool{}
		rows, err := db.SQL.Query("SELECT id FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			stored[id] = true
		}
		rows.Close()
		for _, id := range ids {
			if !stored[id] {
				t.Errorf("%s: acknowledged write %d is not in the database", table, id)
			}
		}
		t.Logf("%s: %d acknowledged, all stored", table, len(ids))
	}
}

// TestRedisOutage: Redis is killed under a stream of writes and reads, and started again. No
// request fails meanwhile (limits fall back to the process, the cache to the database), every
// acknowledged write is stored, and Redis is used again once it is back.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	rs := testenv.NewRedisServer(t)
	rdb, err := cache.OpenRedis(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	db := openDB(t, database.Options{PostgresURL: testenv.PostgresURL(t)})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, db, rdb)
	ada := a.register(t, "ada")
	first := a.createPost(t, ada, map[string]any{"title": "First", "publish": true})

	w := &writes{errors: map[string]int{}}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); streamWrites(ctx, t, a, ada, first.ID, w) }()
	readers := make(chan struct{})
	go func() { // reads through the cache meanwhile, signed in and anonymous
		defer close(readers)
		for ctx.Err() == nil {
			for _, token := range []string{ada.Token, ""} {
				r, raw, err := postBounded(t, a.GraphQL.URL, token, `query($id: ID!) { node(id: $id) { ... on Post { title likeCount commentCount author { username followerCount } } } }`,
					map[string]any{"id": first.ID})
				if err != nil || len(r.Errors) > 0 {
					t.Errorf("read: %v %s", err, raw)
					return
				}
			}
		}
	}()

	waitUntil(t, "writes before the outage", func() bool { ok, _ := w.snapshot(); return ok >= 10 })
	rs.Stop(t)
	w.mark()
	waitUntil(t, "writes while Redis is down", func() bool { ok, _ := w.snapshot(); return ok >= 10 })
	// Subscriptions need Redis: they are refused as unavailable, in words of our own.
	sub := a.GraphQL.Subscribe(t, testenv.TransportSSE, `subscription($id: ID!) { commentAdded(postID: $id) { body } }`, map[string]any{"id": first.ID})
	if r, ok := sub.Next(t, wait); !ok || len(r.Errors) != 1 || r.Errors[0].Code() != "SERVICE_UNAVAILABLE" ||
		strings.Contains(strings.ToLower(r.Errors[0].Message), "redis") || strings.Contains(r.Errors[0].Message, "dial") {
		t.Errorf("subscribing while Redis is down: %+v", r)
	}
	rs.Start(t)
	// Rate limits and the cache are in Redis again (it restarted empty).
	waitUntil(t, "Redis in use again", func() bool {
		n, err := rdb.Exists(t.Context(), "agora:ratelimit:request:user:"+ada.ID).Result()
		return err == nil && n == 1
	})
	waitUntil(t, "the cache in Redis again", func() bool {
		keys, err := rdb.Keys(t.Context(), "agora:v1:*").Result()
		return err == nil && len(keys) > 0
	})
	w.mark()
	waitUntil(t, "writes after the outage", func() bool { ok, _ := w.snapshot(); return ok >= 10 })
	stop()
	<-done
	<-readers
	if len(w.errors) > 0 {
		t.Errorf("writes failed while Redis was down: %v", w.errors)
	}
	wantStored(t, db, w)
}

// TestPostgresOutage: PostgreSQL is killed under a stream of writes and started again. While it
// is down /readyz answers 503 and writes fail as SERVICE_UNAVAILABLE, without driver text; every
// acknowledged write survives the crash; once it is back the service recovers by itself.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	ps := testenv.NewPostgresServer(t)
	db := openDB(t, database.Options{PostgresURL: ps.URL(), MaxConns: 5})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, db, nil)
	ada := a.register(t, "ada")
	first := a.createPost(t, ada, map[string]any{"title": "First", "publish": true})
	ready := func() int { res, _ := httpGet(t, a.srv.URL+"/readyz"); return res.StatusCode }

	w := &writes{errors: map[string]int{}}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); streamWrites(ctx, t, a, ada, first.ID, w) }()

	waitUntil(t, "writes before the outage", func() bool { ok, _ := w.snapshot(); return ok >= 10 })
	ps.Stop(t)
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz with PostgreSQL down: %d, want 503", got)
	}
	// Writes are sequential: once one has failed, the one in flight at the crash is counted too.
	waitUntil(t, "a write refused", func() bool { _, failed := w.snapshot(); return failed > 0 })
	w.mark()
	waitUntil(t, "writes refused while PostgreSQL is down", func() bool { _, failed := w.snapshot(); return failed >= 10 })
	if ok, _ := w.snapshot(); ok > 0 {
		t.Errorf("%d writes acknowledged while PostgreSQL was down", ok)
	}
	ps.Start(t)
	waitUntil(t, "/readyz after PostgreSQL is back", func() bool { return ready() == http.StatusOK })
	w.mark()
	waitUntil(t, "writes after the outage", func() bool { ok, _ := w.snapshot(); return ok >= 10 })
	stop()
	<-done

	for code, n := range w.errors {
		if code != "SERVICE_UNAVAILABLE" {
			t.Errorf("%d errors coded %s, want only SERVICE_UNAVAILABLE", n, code)
		}
	}
	t.Logf("errors during the outage: %v", w.errors)
	wantStored(t, db, w)
}

// TestRedisStall: Redis stops answering (SIGSTOP: connections stay open, nothing comes back) for
// a few seconds under a stream of writes and reads, then goes on. Every request still returns,
// none waits long on Redis (each part falls back to its in-process path), writes keep being
// acknowledged meanwhile, and once Redis answers again the invalidations of the writes made
// meanwhile reach it, so another replica reading through Redis sees them.
func TestRedisStall(t *testing.T) {
	t.Parallel()
	rs := testenv.NewRedisServer(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() redis.UniversalClient {
		rdb, err := cache.OpenRedis(t.Context(), quiet, rs.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		return rdb
	}
	pg := testenv.PostgresURL(t)
	db := openDB(t, database.Options{PostgresURL: pg})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, db, open())
	b := startAPI(t, openDB(t, database.Options{PostgresURL: pg}), open()) // another replica
	rdb := open()                                                          // the test's own look at Redis
	ada, bob := a.register(t, "ada"), a.register(t, "bob")
	first := a.createPost(t, ada, map[string]any{"title": "First", "publish": true})
	const read = `query($id: ID!) { node(id: $id) { ... on Post { title likeCount author { username } } } }`
	var seen struct {
		Node struct {
			Title     string
			LikeCount int
		}
	}
	b.Do(t, read, map[string]any{"id": first.ID}, &seen) // cached in Redis, as every replica reads it
	if seen.Node.Title != "First" || seen.Node.LikeCount != 0 {
		t.Fatalf("before: %+v", seen.Node)
	}

	w := &writes{errors: map[string]int{}}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); streamWrites(ctx, t, a, ada, first.ID, w) }()
	var slowestRead time.Duration
	readers := make(chan struct{})
	go func() {
		defer close(readers)
		for ctx.Err() == nil {
			start := time.Now()
			r, raw, err := postBounded(t, a.GraphQL.URL, bob.Token, read, map[string]any{"id": first.ID})
			if err != nil || len(r.Errors) > 0 {
				t.Errorf("read: %v %s", err, raw)
				return
			}
			slowestRead = max(slowestRead, time.Since(start))
		}
	}()

	waitUntil(t, "writes before the stall", func() bool { ok, _ := w.snapshot(); return ok >= 10 })
	rs.Pause(t)
	w.mark()
	pausedAt := time.Now()
	// Meanwhile the post is renamed and liked: the entity and the count Redis holds are stale now.
	a.as(ada).Do(t, `mutation($id: ID!) { updatePost(input: {id: $id, title: "Renamed"}) { post { id } } }`, map[string]any{"id": first.ID}, nil)
	a.as(bob).Do(t, `mutation($id: ID!) { likePost(input: {postID: $id}) { post { id } } }`, map[string]any{"id": first.ID}, nil)
	// New subscriptions are refused at once, in words of our own, rather than left waiting.
	sub := a.GraphQL.Subscribe(t, testenv.TransportSSE, `subscription($id: ID!) { commentAdded(postID: $id) { body } }`, map[string]any{"id": first.ID})
	if r, ok := sub.Next(t, wait); !ok || len(r.Errors) != 1 || r.Errors[0].Code() != "SERVICE_UNAVAILABLE" || strings.Contains(strings.ToLower(r.Errors[0].Message), "redis") {
		t.Errorf("subscribing while Redis stalls: %+v", r)
	}
	time.Sleep(4*time.Second - time.Since(pausedAt)) // the stall lasts 4 s
	during, _ := w.snapshot()
	rs.Resume(t)
	t.Logf("writes acknowledged during the 4 s stall: %d", during)
	if during < 5 {
		t.Errorf("%d writes acknowledged while Redis stalled, want them to keep flowing", during)
	}

	// Once this replica uses Redis again (it writes its rate-limit key anew), what was invalidated
	// meanwhile has reached Redis.
	key := "agora:ratelimit:request:user:" + ada.ID
	if err := rdb.Del(t.Context(), key).Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "Redis in use again", func() bool {
		n, err := rdb.Exists(t.Context(), key).Result()
		return err == nil && n == 1
	})
	b.Do(t, read, map[string]any{"id": first.ID}, &seen)
	if seen.Node.Title != "Renamed" || seen.Node.LikeCount != 1 {
		t.Errorf("the other replica reads %+v through Redis after the stall, want the rename and the like", seen.Node)
	}
	w.mark()
	waitUntil(t, "writes after the stall", func() bool { ok, _ := w.snapshot(); return ok >= 10 })
	stop()
	<-done
	<-readers
	t.Logf("slowest write %v, slowest read %v", w.slowest, slowestRead)
	// A generous bound, to tell "waited on Redis a little" from "stalled with it": not a speed check.
	if w.slowest > 3*time.Second || slowestRead > 3*time.Second {
		t.Errorf("a request took %v (write) / %v (read) while Redis stalled, want each to return within 3 s", w.slowest, slowestRead)
	}
	if len(w.errors) > 0 {
		t.Errorf("writes failed while Redis stalled: %v", w.errors)
	}
	wantStored(t, db, w)
}
