package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/search"
	"github.com/agora/agora/internal/testenv"
)

// planPages are the page queries whose SQL TestQueryPlans checks: the posts page of issue 16
// (signed out and in, and its second page), the feed, a profile with posts, followers and
// following, a post with comments, a tag's posts, notifications, conversations with messages, and
// the orders the root lists offer. $tag, $conversation and $after are filled in by the test.
var planPages = []struct {
	name, query string
	signedIn    bool
	maxComments int // the most comment rows its statements may read (0: not checked)
}{
	// Three of the posts on the page have 1,000 comments each: it reads the first 6 of each post.
	{name: "posts page, signed out", query: postsPage, maxComments: 60},
	{name: "posts page", query: postsPage, signedIn: true, maxComments: 60},
	{name: "posts page 2", query: `query($after: Cursor) { posts(first: 10, after: $after) {
	  pageInfo { hasNextPage endCursor } edges { node { id title author { username } } } } }`, signedIn: true},
	{name: "feed", query: feedPage, signedIn: true},
	{name: "profile: user.posts, followers, following", query: `{ user(username: "bulk5") {
	  posts(first: 10, orderBy: {field: PUBLISHED_AT, direction: DESC}) { pageInfo { hasNextPage } edges { node { title tags { name } } } }
	  followers(first: 10) { pageInfo { hasNextPage } edges { node { username } } }
	  following(first: 10) { pageInfo { hasNextPage } edges { node { username } } } } }`, signedIn: true},
	{name: "post page: comments", query: `{ post(slug: "bulk-post-7919") { title
	  comments(first: 20) { totalCount pageInfo { hasNextPage } edges { node { body author { username } } } } } }`, signedIn: true},
	{name: "tag page: tag.posts", query: `query($tag: ID!) { node(id: $tag) { ... on Tag { name postCount
	  posts(first: 10) { pageInfo { hasNextPage } edges { node { title } } } } } }`},
	{name: "notifications", query: `{ user(username: "reader") { unreadNotificationCount
	  all: notifications(first: 20) { pageInfo { hasNextPage } edges { node { kind actor { username } } } }
	  unread: notifications(first: 20, unread: true) { pageInfo { hasNextPage } edges { node { kind } } } } }`, signedIn: true},
	{name: "conversations with messages", query: `{ conversations(first: 10) { pageInfo { hasNextPage } edges { node {
	  participants { username } messages(first: 5) { pageInfo { hasNextPage } edges { node { body sender { username } } } } } } } }`, signedIn: true},
	{name: "messages of a conversation", query: `query($conversation: ID!) { node(id: $conversation) { ... on Conversation {
	  messages(first: 20) { pageInfo { hasNextPage } edges { node { body } } } } } }`, signedIn: true},
	{name: "posts in each order", query: `{
	  a: posts(first: 10, orderBy: {field: UPDATED_AT, direction: DESC}) { edges { node { id } } }
	  b: posts(first: 10, orderBy: {field: TITLE, direction: ASC}) { edges { node { id } } }
	  c: posts(first: 10, orderBy: {field: PUBLISHED_AT, direction: DESC}) { edges { node { id } } }
	  d: posts(first: 10, orderBy: {field: CREATED_AT, direction: ASC}) { edges { node { id } } } }`, signedIn: true},
	{name: "search, a word in every post", query: searchResults("lorem")},
	{name: "search, a word in every post, page 2", query: `query($searchAfter: Cursor) { search(query: "lorem", first: 10, after: $searchAfter) {
	  totalCount edges { score node { id title } } pageInfo { hasNextPage } } }`},
	{name: "search, a rare word", query: searchResults("12345")},
	{name: "users in each order", query: `{
	  a: users(first: 10) { edges { node { id } } }
	  b: users(first: 10, orderBy: {field: USERNAME, direction: ASC}) { edges { node { id } } }
	  c: users(first: 10, orderBy: {field: DISPLAY_NAME, direction: ASC}) { edges { node { id } } }
	  d: users(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) { edges { node { id } } } }`},
}

// searchResults is a search results page for q, as the benchmark asks for it.
func searchResults(q string) string {
	return `{ search(query: "` + q + `", first: 10) { totalCount hasMoreMatches pageInfo { hasNextPage endCursor }
	  edges { score titleHighlight { text } snippet { text } node { id title author { username } tags { name } } } } }`
}

// postsPage is the SPA's posts page of issue 16.
const postsPage = `{ posts(first: 10) { pageInfo { hasNextPage endCursor } edges { node {
  id title createdAt author { id username }
  comments(first: 5) { edges { node { id body author { username } } } pageInfo { hasNextPage } }
  tags { name } } } } }`

// seqScanForbidden are the tables no page query may read sequentially at the benchmark's size.
var seqScanForbidden = []string{"posts", "comments", "likes"}

// TestQueryPlans: at the benchmark's data size (2,000 users, 20,000 posts, 100,000 comments and
// likes, 40,000 follows), PostgreSQL answers each page query from indexes. Every statement a page
// sends (on a fresh app, so that no cache hides one) is run again under EXPLAIN (ANALYZE, BUFFERS);
// a sequential scan of posts, comments or likes fails the test. `go test -run QueryPlans -v` prints
// the plans.
func TestQueryPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the benchmark's data set")
	}
	var (
		mu        sync.Mutex
		capturing bool
		captured  []statement
	)
	db := openDB(t, database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10,
		OnStatement: func(_ context.Context, query string, args []any) {
			mu.Lock()
			defer mu.Unlock()
			if capturing {
				captured = append(captured, statement{query, args})
			}
		}})
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, db, nil)
	reader := a.register(t, "reader")
	vars := seedBulk(t, db.SQL, reader.ID)

	for _, page := range planPages {
		t.Run(page.name, func(t *testing.T) {
			app := startAPI(t, db, nil) // empty caches: every statement the page needs runs
			client := app.GraphQL
			if page.signedIn {
				client = app.as(reader)
			}
			mu.Lock()
			capturing, captured = true, nil
			mu.Unlock()
			r := client.Post(t, page.query, vars)
			mu.Lock()
			capturing = false
			statements := captured
			mu.Unlock()
			if len(r.Errors) > 0 {
				t.Fatalf("errors: %+v", r.Errors)
			}
			var out struct {
				Posts  struct{ PageInfo struct{ EndCursor string } }
				Search struct{ PageInfo struct{ EndCursor string } }
			}
			if err := json.Unmarshal(r.Data, &out); err != nil {
				t.Fatal(err)
			}
			switch page.name {
			case "posts page":
				vars["after"] = out.Posts.PageInfo.EndCursor
			case "search, a word in every post":
				vars["searchAfter"] = out.Search.PageInfo.EndCursor
			}
			// Each statement as planned for its arguments, and as the generic plan PostgreSQL may
			// keep for a prepared statement after its fifth run (pgx prepares every statement).
			for _, generic := range []bool{false, true} {
				name := page.name
				if generic {
					name += " (generic plans)"
				}
				buffers, documents, comments := 0, 0, 0
				for _, s := range statements {
					if !s.read() {
						continue
					}
					plan := explain(t, db.SQL, s, generic)
					buffers += plan.buffers()
					documents += plan.rowsOf("post_search")
					comments += plan.rowsOf("comments")
					t.Logf("%s\n%s", s.query, plan.text)
					for _, table := range plan.seqScans() {
						if slices.Contains(seqScanForbidden, table) {
							t.Errorf("%s: sequential scan of %s in:\n%s\n%s", name, table, s.query, plan.text)
						}
					}
				}
				// A search reads the documents of the newest matches it ranks, and of the posts it
				// walks past to find them (drafts, hidden posts): not those of every match.
				if most := 3 * search.DefaultMaxRanked; strings.HasPrefix(page.name, "search") && documents > most {
					t.Errorf("%s reads %d search documents, more than %d: it scores every match", name, documents, most)
				}
				// A nested connection reads each parent's first children, not all of them.
				if page.maxComments > 0 && comments > page.maxComments {
					t.Errorf("%s reads %d comments, more than %d: every comment of its posts", name, comments, page.maxComments)
				}
				t.Logf("%s: %d statements, %d shared buffers, %d search documents and %d comments read", name, len(statements), buffers, documents, comments)
			}
		})
	}
}

// statement is one statement ent sent, with its arguments.
type statement struct {
	query string
	args  []any
}

// read reports whether the statement only reads (EXPLAIN ANALYZE runs it).
func (s statement) read() bool {
	q := strings.ToUpper(strings.TrimSpace(s.query))
	return strings.HasPrefix(q, "SELECT") || strings.HasPrefix(q, "WITH")
}

// plan is a statement's plan: EXPLAIN's text and JSON forms.
type plan struct {
	text string
	root planNode
}

type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	ActualRows   float64    `json:"Actual Rows"`
	ActualLoops  float64    `json:"Actual Loops"`
	SharedHit    int        `json:"Shared Hit Blocks"`
	SharedRead   int        `json:"Shared Read Blocks"`
	Plans        []planNode `json:"Plans"`
}

// prepared numbers the statements explain prepares.
var prepared atomic.Int64

// explain runs the statement under EXPLAIN (ANALYZE, BUFFERS), in a transaction rolled back after:
// planned for its arguments, or generic, as PostgreSQL may plan a prepared statement once for all.
func explain(t *testing.T, db *sql.DB, s statement, generic bool) plan {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	query := s.query
	if generic { // PostgreSQL 15's EXPLAIN has no GENERIC_PLAN: the plan of a statement prepared
		name := fmt.Sprintf("agora_plan_%d", prepared.Add(1)) // prepared statements outlive the transaction
		if _, err := tx.Exec("PREPARE " + name + " AS " + s.query); err != nil {
			t.Fatalf("PREPARE %s: %v", s.query, err)
		}
		defer tx.Exec("DEALLOCATE " + name)
		if _, err := tx.Exec("SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			t.Fatal(err)
		}
		params := make([]string, len(s.args))
		for i, arg := range s.args { // EXECUTE's arguments cannot be parameters
			params[i] = literal(t, arg)
		}
		query = "EXECUTE " + name
		if len(params) > 0 {
			query += "(" + strings.Join(params, ", ") + ")"
		}
	}
	var p plan
	args := s.args
	if generic {
		args = nil
	}
	rows, err := tx.Query("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF) "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", s.query, err)
	}
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	p.text = strings.Join(lines, "\n")
	var out []struct{ Plan planNode }
	var raw []byte
	if err := tx.QueryRow("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF, FORMAT JSON) "+query, args...).Scan(&raw); err != nil {
		t.Fatalf("EXPLAIN %s: %v", s.query, err)
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) != 1 {
		t.Fatalf("EXPLAIN's JSON: %v\n%s", err, raw)
	}
	p.root = out[0].Plan
	return p
}

// literal writes a statement's argument as SQL.
func literal(t *testing.T, arg any) string {
	t.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch v := arg.(type) {
	case nil:
		return "NULL"
	case int, int64, int32, bool, float64:
		return fmt.Sprint(v)
	case string:
		return quote(v)
	case time.Time:
		return quote(v.Format(time.RFC3339Nano))
	case []int64:
		return quote("{" + strings.Trim(strings.Join(strings.Fields(fmt.Sprint(v)), ","), "[]") + "}")
	}
	switch v := reflect.ValueOf(arg); v.Kind() { // ent's enums
	case reflect.String:
		return quote(v.String())
	case reflect.Int, reflect.Int64:
		return fmt.Sprint(v.Int())
	}
	t.Fatalf("no SQL literal for %T", arg)
	return ""
}

// seqScans lists the tables the plan reads sequentially.
func (p plan) seqScans() []string {
	var out []string
	var walk func(n planNode)
	walk = func(n planNode) {
		if n.NodeType == "Seq Scan" {
			out = append(out, n.RelationName)
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(p.root)
	return out
}

// rowsOf is how many rows the plan read from table, over all the loops of its scans.
func (p plan) rowsOf(table string) int {
	n := 0.0
	var walk func(n planNode)
	walk = func(node planNode) {
		if node.RelationName == table {
			n += node.ActualRows * node.ActualLoops
		}
		for _, c := range node.Plans {
			walk(c)
		}
	}
	walk(p.root)
	return int(n)
}

// buffers is the shared buffers the statement touched (hit or read).
func (p plan) buffers() int { return p.root.SharedHit + p.root.SharedRead }

// seedBulk loads a data set of the benchmark's size straight into PostgreSQL, the reader following
// 20 users, with 500 notifications and 30 conversations of 20 messages, three popular posts with
// 1,000 comments more (on the first posts page), and ANALYZEs it. About 5%
// of the posts are drafts, 1% hidden, 1% of the comments hidden; posts have bodies of about the
// benchmark's length, so that the table has its size (the planner weighs it). It returns the
// variables the pages take.
func seedBulk(t *testing.T, db *sql.DB, readerID string) map[string]any {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx) // one session: temp tables
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{
		`INSERT INTO users (created_at, updated_at, username, email, password_hash, display_name, role)
		 SELECT now() - g * interval '1 hour', now() - g * interval '1 minute', 'bulk' || g, 'bulk' || g || '@example.com', 'x', 'Bulk ' || (g * 7 % 2000), 'USER'
		 FROM generate_series(0, 1999) g`,
		`CREATE TEMP TABLE u AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM users WHERE username LIKE 'bulk%'`,
		`INSERT INTO posts (created_at, updated_at, slug, title, description, body, status, published_at, hidden_at, author_id)
		 SELECT x.t, x.t, 'bulk-post-' || g, 'Post ' || (g * 7919 % 20000), '', 'The body of post ' || g || repeat(' lorem ipsum dolor sit amet', 30),
		   CASE WHEN g % 20 = 0 THEN 'DRAFT' ELSE 'PUBLISHED' END, CASE WHEN g % 20 <> 0 THEN x.t END,
		   CASE WHEN g % 100 = 7 THEN x.t END, u.id
		 FROM generate_series(0, 19999) g JOIN u ON u.n = g % 2000, LATERAL (SELECT now() - g * interval '1 minute' AS t) x`,
		`CREATE TEMP TABLE p AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM posts WHERE slug LIKE 'bulk-post-%'`,
		`INSERT INTO comments (created_at, updated_at, body, hidden_at, post_id, author_id)
		 SELECT now() - g * interval '1 second', now(), 'Comment ' || g, CASE WHEN g % 100 = 3 THEN now() END, p.id, u.id
		 FROM generate_series(0, 99999) g JOIN p ON p.n = g * 7919 % 20000 JOIN u ON u.n = g * 31 % 2000`,
		// Popular posts: three on the posts page have 1,000 comments more.
		`INSERT INTO comments (created_at, updated_at, body, post_id, author_id)
		 SELECT now() - g * interval '1 second', now(), 'Popular ' || g, hot.id, u.id
		 FROM generate_series(0, 2999) g
		 JOIN (SELECT id, row_number() OVER (ORDER BY created_at DESC, id DESC) - 1 AS n FROM posts
		       WHERE status = 'PUBLISHED' AND hidden_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 3) hot ON hot.n = g % 3
		 JOIN u ON u.n = g % 2000`,
		`INSERT INTO likes (created_at, user_id, post_id)
		 SELECT now() - g * interval '1 second', u.id, p.id
		 FROM generate_series(0, 99999) g JOIN u ON u.n = g % 2000 JOIN p ON p.n = ((g % 2000) * 50 + (g / 2000) * 397) % 20000`,
		`INSERT INTO follows (created_at, user_id, following_id)
		 SELECT now(), followed.id, follower.id
		 FROM generate_series(0, 39999) g JOIN u follower ON follower.n = g % 2000 JOIN u followed ON followed.n = (g % 2000 + (g / 2000 + 1) * 97) % 2000`,
		`INSERT INTO follows (created_at, user_id, following_id) SELECT now(), u.id, $1 FROM u WHERE u.n % 100 = 5`,
		`INSERT INTO tags (name, created_at) SELECT 'bulk-tag-' || g, now() FROM generate_series(0, 199) g`,
		`CREATE TEMP TABLE tg AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM tags WHERE name LIKE 'bulk-tag-%'`,
		`INSERT INTO post_tags (post_id, tag_id)
		 SELECT DISTINCT p.id, tg.id FROM p, LATERAL (VALUES (p.n % 200), (CASE WHEN p.n % 3 <> 0 THEN (p.n * 7 + 3) % 200 END)) k(n) JOIN tg ON tg.n = k.n`,
		`INSERT INTO notifications (kind, created_at, read_at, recipient_id, actor_id)
		 SELECT 'NEW_FOLLOWER', now() - g * interval '1 minute', CASE WHEN g % 2 = 0 THEN now() END,
		   CASE WHEN g < 500 THEN $1 ELSE recipient.id END, actor.id
		 FROM generate_series(0, 20499) g JOIN u recipient ON recipient.n = g % 2000 JOIN u actor ON actor.n = (g + 1) % 2000`,
		`CREATE TEMP TABLE pairs AS
		 SELECT g, CASE WHEN g < 30 THEN $1 ELSE a.id END AS a, b.id AS b
		 FROM generate_series(0, 2029) g JOIN u a ON a.n = g % 2000 JOIN u b ON b.n = (g + 1) % 2000`,
		`INSERT INTO conversations (pair, created_at, last_message_at)
		 SELECT least(a, b) || ':' || greatest(a, b), now(), now() - g * interval '1 minute' FROM pairs`,
		`INSERT INTO conversation_participants (conversation_id, user_id)
		 SELECT c.id, x.id FROM pairs JOIN conversations c ON c.pair = least(a, b) || ':' || greatest(a, b), LATERAL (VALUES (a), (b)) x(id)`,
		`INSERT INTO messages (body, created_at, conversation_id, sender_id)
		 SELECT 'Message ' || m, now() - m * interval '1 second', c.id, CASE WHEN m % 2 = 0 THEN a ELSE b END
		 FROM pairs JOIN conversations c ON c.pair = least(a, b) || ':' || greatest(a, b), generate_series(0, 19) m`,
		`ANALYZE`,
	} {
		var args []any
		if strings.Contains(stmt, "$1") {
			args = append(args, readerID)
		}
		if _, err := conn.ExecContext(ctx, stmt, args...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	vars := map[string]any{"n": 20}
	var tagID, conversationID int64
	if err := conn.QueryRowContext(ctx, `SELECT id FROM tags WHERE name = 'bulk-tag-11'`).Scan(&tagID); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT conversation_id FROM conversation_participants WHERE user_id = $1 LIMIT 1`, readerID).Scan(&conversationID); err != nil {
		t.Fatal(err)
	}
	vars["tag"], vars["conversation"] = fmt.Sprint(tagID), fmt.Sprint(conversationID)
	return vars
}
