package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime/metrics"
	"strconv"
	"time"
)

// The posts page's response, fields in the order of the benchmark's posts page query.
type (
	postsResponse struct {
		Data struct {
			Posts postsPage `json:"posts"`
		} `json:"data"`
	}
	postsPage struct {
		PageInfo struct {
			HasNextPage bool    `json:"hasNextPage"`
			EndCursor   *cursor `json:"endCursor"`
		} `json:"pageInfo"`
		Edges []listedPostEdge `json:"edges"`
	}
	listedPostEdge struct {
		Node listedPost `json:"node"`
	}
	listedPost struct {
		ID        string `json:"id"`
		Title     string `json:"title"`
		CreatedAt string `json:"createdAt"`
		Author    struct {
			ID       string `json:"id"`
			Username string `json:"username"`
		} `json:"author"`
		Comments struct {
			Edges    []listedCommentEdge `json:"edges"`
			PageInfo struct {
				HasNextPage bool `json:"hasNextPage"`
			} `json:"pageInfo"`
		} `json:"comments"`
		Tags []tag `json:"tags"`
	}
	listedCommentEdge struct {
		Node struct {
			ID     string `json:"id"`
			Body   string `json:"body"`
			Author struct {
				Username string `json:"username"`
			} `json:"author"`
		} `json:"node"`
	}
)

// postsComments is how many comments the posts page shows per post.
const postsComments = 5

// postsSQL is the whole posts page in one statement: the viewer's visible posts newest first, plus
// one row (hasNextPage), each with its author, its first comments plus one (oldest first, hidden
// ones for their author only) with their authors, and its tag names. It reads what Agora's
// indexes serve: posts by (created_at, id), comments by (post_id, id), post_tags by post.
const postsSQL = `
WITH page AS (
	SELECT p.id, p.title, p.created_at, p.author_id FROM posts p
	WHERE (p.status = 'PUBLISHED' AND p.hidden_at IS NULL) OR p.author_id = $1
	ORDER BY p.created_at DESC, p.id DESC LIMIT $2
)
SELECT page.id, page.title, page.created_at, u.id, u.username, c.ids, c.bodies, c.authors,
	ARRAY(SELECT t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = page.id ORDER BY t.name)
FROM page JOIN users u ON u.id = page.author_id
CROSS JOIN LATERAL (
	SELECT array_agg(c.id ORDER BY c.id) AS ids, array_agg(c.body ORDER BY c.id) AS bodies,
		array_agg(cu.username ORDER BY c.id) AS authors
	FROM (
		SELECT id, body, author_id FROM comments
		WHERE post_id = page.id AND (hidden_at IS NULL OR author_id = $1)
		ORDER BY id LIMIT $3
	) c JOIN users cu ON cu.id = c.author_id
) c
ORDER BY page.created_at DESC, page.id DESC`

func (s *server) posts(ctx context.Context, viewer, n int) (*postsResponse, error) {
	res := &postsResponse{}
	page := &res.Data.Posts
	page.Edges = make([]listedPostEdge, 0, n+1)
	rows, err := s.db.Query(ctx, postsSQL, viewer, n+1, postsComments+1)
	if err != nil {
		return nil, fmt.Errorf("posts page: %w", err)
	}
	defer rows.Close()
	var (
		id, authorID int64
		created      time.Time
		commentIDs   []int64
		bodies       []string
		authors      []string
		tags         []string
	)
	for rows.Next() {
		page.Edges = append(page.Edges, listedPostEdge{})
		p := &page.Edges[len(page.Edges)-1].Node
		if err := rows.Scan(&id, &p.Title, &created, &authorID, &p.Author.Username, &commentIDs, &bodies, &authors, &tags); err != nil {
			return nil, fmt.Errorf("posts page: %w", err)
		}
		if len(page.Edges) > n { // the extra row: there is a next page
			page.Edges = page.Edges[:n]
			page.PageInfo.HasNextPage = true
			break
		}
		p.ID = strconv.FormatInt(id, 10)
		p.CreatedAt = created.Format(time.RFC3339Nano)
		p.Author.ID = strconv.FormatInt(authorID, 10)
		p.Tags = make([]tag, len(tags))
		for i, name := range tags {
			p.Tags[i].Name = name
		}
		if len(commentIDs) > postsComments {
			p.Comments.PageInfo.HasNextPage = true
			commentIDs = commentIDs[:postsComments]
		}
		p.Comments.Edges = make([]listedCommentEdge, len(commentIDs))
		for i, cid := range commentIDs {
			c := &p.Comments.Edges[i].Node
			c.ID, c.Body, c.Author.Username = strconv.FormatInt(cid, 10), bodies[i], authors[i]
		}
		page.PageInfo.EndCursor = &cursor{ID: int(id), Value: created}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("posts page: %w", err)
	}
	return res, nil
}

// mallocs serves the count of heap allocations so far under the name Agora's /metrics gives it
// (the Prometheus Go collector sums the same two runtime metrics).
func mallocs(w http.ResponseWriter, _ *http.Request) {
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/tiny/allocs:objects"}}
	metrics.Read(samples)
	fmt.Fprintf(w, "go_memstats_mallocs_total %d\n", samples[0].Value.Uint64()+samples[1].Value.Uint64())
}
