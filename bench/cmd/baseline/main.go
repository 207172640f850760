// Command baseline answers two of Agora's pages with hand-written SQL on pgx: the yardstick that
// `make bench` compares Agora's throughput with. It serves POST /graphql for those two queries (it
// reads only variables.n, and of the query text only whether it asks for `posts(` or the feed) and
// answers the JSON Agora answers for the same viewer, cursors included.
//
// It does what a careful hand-written endpoint would: verify the access token (the same HS256 check
// as Agora, without Agora's session lookup), then
//   - the feed page: two round trips to PostgreSQL of two pipelined statements each: the feed's
//     count and the page with its counts, flags and authors; then the page's tags and its first
//     comments;
//   - the posts page (posts.go): one statement for the page, its authors, tags and first comments.
//
// GET /metrics gives go_memstats_mallocs_total, as Agora's /metrics does, so that the benchmark
// reports the baseline's allocations per request too.
//
//	baseline -addr 127.0.0.1:8090 -db postgres://… -secret $AGORA_JWT_SECRET
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agora/agora/internal/auth"
)

func main() {
	var (
		addr     = flag.String("addr", "127.0.0.1:8090", "listen address")
		dbURL    = flag.String("db", "", "PostgreSQL URL of the Agora database")
		secret   = flag.String("secret", "", "Agora's AGORA_JWT_SECRET, to verify access tokens")
		issuer   = flag.String("issuer", "agora", "Agora's AGORA_TOKEN_ISSUER")
		maxConns = flag.Int("max-conns", 20, "pool size (Agora's AGORA_DB_MAX_CONNS default)")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("baseline: ")
	if *secret == "" {
		log.Fatal("-secret is required")
	}

	cfg, err := pgxpool.ParseConfig(*dbURL)
	if err != nil {
		log.Fatal(err)
	}
	cfg.MaxConns = int32(*maxConns)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	s := &server{db: pool, tokens: auth.NewTokens([]byte(*secret), nil, *issuer, time.Hour)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /graphql", s.graphql)
	mux.HandleFunc("GET /metrics", mallocs)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := pool.Ping(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	log.Fatal((&http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}).ListenAndServe())
}

type server struct {
	db     *pgxpool.Pool
	tokens *auth.Tokens
}

// The response, with fields in the order of the feed page query so the bytes match Agora's too.
type (
	response struct {
		Data struct {
			Feed feed `json:"feed"`
		} `json:"data"`
	}
	feed struct {
		TotalCount int        `json:"totalCount"`
		Edges      []postEdge `json:"edges"`
		PageInfo   struct {
			HasNextPage bool    `json:"hasNextPage"`
			EndCursor   *cursor `json:"endCursor"`
		} `json:"pageInfo"`
	}
	postEdge struct {
		Node *post `json:"node"`
	}
	post struct {
		ID             string   `json:"id"` // IDs are decimal strings
		Title          string   `json:"title"`
		Slug           string   `json:"slug"`
		PublishedAt    string   `json:"publishedAt"`
		LikeCount      int      `json:"likeCount"`
		CommentCount   int      `json:"commentCount"`
		ViewerHasLiked bool     `json:"viewerHasLiked"`
		Author         author   `json:"author"`
		Tags           []tag    `json:"tags"`
		Comments       comments `json:"comments"`

		id         int64
		cursorTime time.Time
	}
	author struct {
		Username          string `json:"username"`
		DisplayName       string `json:"displayName"`
		FollowerCount     int    `json:"followerCount"`
		ViewerIsFollowing bool   `json:"viewerIsFollowing"`
	}
	tag struct {
		Name string `json:"name"`
	}
	comments struct {
		TotalCount int           `json:"totalCount"`
		Edges      []commentEdge `json:"edges"`
	}
	commentEdge struct {
		Node comment `json:"node"`
	}
	comment struct {
		Body   string `json:"body"`
		Author struct {
			Username string `json:"username"`
		} `json:"author"`
	}
)

// cursor is a post's position in the feed, encoded as Agora (entgql) encodes it: base64 msgpack of
// the ID and the publishedAt value.
type cursor entgql.Cursor[int]

func (c cursor) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	entgql.Cursor[int](c).MarshalGQL(&b)
	return b.Bytes(), nil
}

// countSQL counts the feed: the followees' published posts.
const countSQL = `
SELECT count(*) FROM follows f JOIN posts p ON p.author_id = f.user_id
WHERE f.following_id = $1 AND p.status = 'PUBLISHED' AND p.hidden_at IS NULL`

// pageSQL selects the page plus one row (to learn hasNextPage) and per post its counts, the viewer's
// flags and its author. The page is merged from the newest posts of each followee (LATERAL), which
// reads a few rows per followee; a plain join makes PostgreSQL walk all posts by date.
const pageSQL = `
WITH page AS (
	SELECT p.id, p.title, p.slug, p.published_at, p.author_id
	FROM follows f CROSS JOIN LATERAL (
		SELECT id, title, slug, published_at, author_id FROM posts
		WHERE author_id = f.user_id AND status = 'PUBLISHED' AND hidden_at IS NULL
		ORDER BY published_at DESC, id DESC LIMIT $2
	) p
	WHERE f.following_id = $1
	ORDER BY p.published_at DESC, p.id DESC LIMIT $2
)
SELECT page.id, page.title, page.slug, page.published_at,
	(SELECT count(*) FROM likes l WHERE l.post_id = page.id),
	EXISTS (SELECT 1 FROM likes l WHERE l.post_id = page.id AND l.user_id = $1),
	u.username, u.display_name,
	(SELECT count(*) FROM follows f WHERE f.user_id = u.id),
	EXISTS (SELECT 1 FROM follows f WHERE f.user_id = u.id AND f.following_id = $1)
FROM page JOIN users u ON u.id = page.author_id
ORDER BY page.published_at DESC, page.id DESC`

const tagsSQL = `
SELECT pt.post_id, t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
WHERE pt.post_id = ANY($1) ORDER BY t.name`

// commentsSQL: the first three comments of each post (oldest first) with their authors, and each
// post's comment count. Hidden comments count for their author only, as in Agora.
const commentsSQL = `
SELECT c.post_id, c.body, u.username, c.total FROM (
	SELECT c.id, c.post_id, c.body, c.author_id,
		row_number() OVER (PARTITION BY c.post_id ORDER BY c.id) AS n,
		count(*) OVER (PARTITION BY c.post_id) AS total
	FROM comments c
	WHERE c.post_id = ANY($1) AND (c.hidden_at IS NULL OR c.author_id = $2)
) c JOIN users u ON u.id = c.author_id
WHERE c.n <= 3 ORDER BY c.post_id, c.id`

// graphql answers the feed page or the posts page, whichever the query asks for.
func (s *server) graphql(w http.ResponseWriter, r *http.Request) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	viewer, _, err := s.tokens.Verify(strings.TrimSpace(token))
	if err != nil || !strings.EqualFold(scheme, "Bearer") {
		http.Error(w, `{"errors":[{"message":"sign in"}]}`, http.StatusUnauthorized)
		return
	}
	var req struct {
		Query     string `json:"query"`
		Variables struct {
			N *int `json:"n"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Variables.N == nil || *req.Variables.N < 0 || *req.Variables.N > 100 {
		http.Error(w, `{"errors":[{"message":"want variables.n in 0..100"}]}`, http.StatusBadRequest)
		return
	}
	var res any
	if strings.Contains(req.Query, "posts(") {
		res, err = s.posts(r.Context(), viewer, *req.Variables.N)
	} else {
		res, err = s.load(r.Context(), viewer, *req.Variables.N)
	}
	if err != nil {
		log.Print(err)
		http.Error(w, `{"errors":[{"message":"internal error"}]}`, http.StatusInternalServerError)
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		log.Print(err)
		http.Error(w, `{"errors":[{"message":"internal error"}]}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *server) load(ctx context.Context, viewer, n int) (*response, error) {
	res := &response{}
	f := &res.Data.Feed
	f.Edges = []postEdge{}
	// Round trip 1: the count and the page, pipelined.
	var posts []*post
	batch := &pgx.Batch{}
	batch.Queue(countSQL, viewer).QueryRow(func(row pgx.Row) error { return row.Scan(&f.TotalCount) })
	batch.Queue(pageSQL, viewer, n+1).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			p := &post{Tags: []tag{}, Comments: comments{Edges: []commentEdge{}}}
			a := &p.Author
			if err := rows.Scan(&p.id, &p.Title, &p.Slug, &p.cursorTime, &p.LikeCount, &p.ViewerHasLiked,
				&a.Username, &a.DisplayName, &a.FollowerCount, &a.ViewerIsFollowing); err != nil {
				return err
			}
			posts = append(posts, p)
		}
		return rows.Err()
	})
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return nil, errors.Join(errors.New("feed page"), err)
	}
	if len(posts) > n {
		f.PageInfo.HasNextPage = true
		posts = posts[:n]
	}
	if len(posts) == 0 {
		return res, nil
	}

	byID := make(map[int64]*post, len(posts))
	ids := make([]int64, len(posts))
	for i, p := range posts {
		ids[i] = p.id
		byID[p.id] = p
		p.ID = strconv.FormatInt(p.id, 10)
		p.PublishedAt = p.cursorTime.Format(time.RFC3339Nano)
		f.Edges = append(f.Edges, postEdge{Node: p})
	}
	last := posts[len(posts)-1]
	f.PageInfo.EndCursor = &cursor{ID: int(last.id), Value: last.cursorTime}

	// Round trip 2: tags and comments, which need the page's IDs.
	batch = &pgx.Batch{}
	batch.Queue(tagsSQL, ids).Query(func(rows pgx.Rows) error {
		var postID int64
		var name string
		_, err := pgx.ForEachRow(rows, []any{&postID, &name}, func() error {
			byID[postID].Tags = append(byID[postID].Tags, tag{Name: name})
			return nil
		})
		return err
	})
	batch.Queue(commentsSQL, ids, viewer).Query(func(rows pgx.Rows) error {
		var postID int64
		var c comment
		var total int
		_, err := pgx.ForEachRow(rows, []any{&postID, &c.Body, &c.Author.Username, &total}, func() error {
			p := byID[postID]
			p.Comments.TotalCount, p.CommentCount = total, total
			p.Comments.Edges = append(p.Comments.Edges, commentEdge{Node: c})
			return nil
		})
		return err
	})
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return nil, errors.Join(errors.New("tags and comments"), err)
	}
	return res, nil
}
