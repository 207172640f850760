// Package search answers full-text searches over posts and as-you-type searches over people and
// tags, on PostgreSQL (weighted tsvector documents with GIN indexes) and on SQLite (FTS5). The
// documents are kept current by database triggers (see the search migrations). Every search is
// an ent query, so the privacy rules of posts and users apply to what it returns.
package search

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/ratelimit"
)

// Service runs searches.
type Service struct {
	client    *ent.Client
	postgres  bool
	limiter   ratelimit.Limiter
	perPage   ratelimit.Limit // post search pages per user or anonymous client address
	maxRanked int             // the most matches a post search ranks: the newest
}

// DefaultMaxRanked is how many of the newest matches a post search ranks unless configured.
const DefaultMaxRanked = 500

// New returns a Service for a database of the dialect ("postgres" or "sqlite3"). A post search
// ranks the newest maxRanked posts that match (DefaultMaxRanked when not positive), so that its
// cost is bounded however many posts match; each viewer's searches are budgeted by perPage.
func New(client *ent.Client, dialectName string, limiter ratelimit.Limiter, perPage ratelimit.Limit, maxRanked int) *Service {
	if maxRanked <= 0 {
		maxRanked = DefaultMaxRanked
	}
	return &Service{client: client, postgres: dialectName == dialect.Postgres, limiter: limiter, perPage: perPage, maxRanked: maxRanked}
}

// A post's score is relevance × freshness × popularity:
//   - relevance: how well the text matches. PostgreSQL's ts_rank weighs a match in the title or
//     tags (A, 1.0) over one in the description (B, 0.4) over one in the body (C, 0.2); SQLite's
//     bm25 weighs the same columns 5, 5, 2 and 1.
//   - freshness: 1 / (1 + age in days / 180), so a post half a year old counts half.
//   - popularity: 1 + ln(1 + likes) / 5, so 10 likes count 1.5 times and 100 likes twice.
//
// The two relevance measures differ in scale and detail (bm25 also weighs term rarity and
// document length), so the two databases may order close results differently.
//
// Only the newest maxRanked matches are scored: scoring reads each match's document and likes, so
// a word in most posts would otherwise cost thousands of scores per page. One statement finds
// them, walking the posts newest first and stopping at maxRanked (a common word) or reading the few
// matches from the text index (a rare one), whichever the database plans cheaper, and reads what
// each one's score needs as it goes: its relevance from the document it matched, its age and its
// likes; the same statement ranks them and returns the page. A second statement highlights the
// page's posts only.
const (
	freshnessDays = 180
	popularityDiv = 5
)

// PostConnection is a page of posts that match a search, best first.
type PostConnection struct {
	Edges    []*PostEdge  `json:"edges"`
	PageInfo ent.PageInfo `json:"pageInfo"`
	// TotalCount is how many posts the search ranks across its pages: every match, up to the
	// newest maxRanked.
	TotalCount int `json:"totalCount"`
	// HasMoreMatches is whether older posts match too, beyond those ranked.
	HasMoreMatches bool `json:"hasMoreMatches"`
}

// PostEdge is a post that matched, with its score and highlights.
type PostEdge struct {
	Node   *ent.Post  `json:"node"`
	Cursor ent.Cursor `json:"cursor"`
	// Score is the ranking score: higher is better; comparable only within one search.
	Score          float64   `json:"score"`
	TitleHighlight Highlight `json:"titleHighlight"`
	Snippet        Highlight `json:"snippet"`
}

// postPosition is where a page of post results starts: after the post with this score and ID,
// scored as of a moment. The moment is the first page's, so that paging through results ranks
// them all the same way, leaving out posts published after the first page was read.
type postPosition struct {
	score float64
	id    int
	asOf  time.Time
}

// Posts returns a page of the published posts that match a search, in score order, then newest
// ID first. Posts by banned users are left out, and privacy rules apply as to any post query.
func (s *Service) Posts(ctx context.Context, args PageArgs) (*PostConnection, error) {
	q, err := ParseQuery("query", args.Query)
	if err != nil {
		return nil, err
	}
	key := "search:ip:" + auth.ClientIP(ctx)
	if v := auth.FromContext(ctx); v.Authenticated() {
		key = "search:user:" + strconv.Itoa(v.UserID)
	}
	if err := ratelimit.Take(ctx, s.limiter, key, s.perPage, "too many searches: retry later"); err != nil {
		return nil, err
	}
	at := postPosition{asOf: time.Now().UTC().Truncate(time.Microsecond)}
	if args.After != nil {
		if at, err = decodePostCursor(args.After); err != nil {
			return nil, err
		}
	}
	m := s.postMatcher(q)
	rows, err := s.ranked(ctx, m, at, args)
	if err != nil {
		return nil, fmt.Errorf("search posts: %w", err)
	}
	c := &PostConnection{Edges: []*PostEdge{}, PageInfo: ent.PageInfo{HasPreviousPage: args.After != nil}}
	if len(rows) > 0 { // every row carries the count
		c.TotalCount, c.HasMoreMatches = min(rows[0].Matched, s.maxRanked), rows[0].Matched > s.maxRanked
	}
	rows = slices.DeleteFunc(rows, func(r rankedRow) bool { return !r.OnPage })
	c.Edges, c.PageInfo, err = s.posts(ctx, m, at, args, rows)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// rankedRow is a post of the page, best first, or (OnPage false) a row read for its count only.
type rankedRow struct {
	ID      int     `sql:"id"`
	Score   float64 `sql:"score"`
	Matched int     `sql:"matched"` // the newest matches read: maxRanked+1 when older ones match too
	OnPage  bool    `sql:"on_page"`
}

// ranked reads, in one statement, the newest maxRanked+1 posts that match as of the position's
// moment (later pages find the same ones), scores the newest maxRanked of them, and returns
// the page after the position, best first, one more than asked to tell whether a next page
// exists. Rows not on the page sort last: one is returned when the page is empty, for the count.
func (s *Service) ranked(ctx context.Context, m postMatcher, at postPosition, args PageArgs) ([]rankedRow, error) {
	var rows []rankedRow
	// The statement nests the query ent builds, privacy rules and all, in the one that ranks.
	// ent applies ordering last, after every predicate, so an ordering option is what can nest it.
	nest := func(sel *sql.Selector) {
		matches := sel.Clone()
		m.join(matches)
		matches.Select(matches.C(post.FieldID))
		matches.AppendSelect(matches.C(post.FieldPublishedAt))
		matches.AppendSelectExprAs(m.score(matches, at.asOf), "score")
		matches.OrderBy(sql.Desc(sel.C(post.FieldPublishedAt)), sql.Desc(sel.C(post.FieldID)))
		matches.Limit(s.maxRanked + 1)
		matches.As("matches")
		// The newest maxRanked are ranked; the one more read only tells that older ones match. (The
		// numbering is out here: SQLite's bm25 cannot be used beside a window function.)
		onPage := sql.ExprFunc(func(b *sql.Builder) {
			b.WriteString("(row_number() OVER (ORDER BY published_at DESC, id DESC) <= ").Arg(s.maxRanked)
			if args.After != nil {
				b.WriteString(" AND (score < ").Arg(at.score).WriteString(" OR (score = ").Arg(at.score).
					WriteString(" AND id < ").Arg(at.id).WriteString("))")
			}
			b.WriteString(")")
		})
		sel.From(matches).SetP(nil)
		sel.Select("id", "score")
		sel.AppendSelectExprAs(sql.Expr("count(*) OVER ()"), "matched")
		sel.AppendSelectExprAs(onPage, "on_page")
		sel.OrderExpr(sql.Expr("on_page DESC, score DESC, id DESC"))
		sel.Limit(args.First + 1)
	}
	err := s.searchable(at.asOf).Order(nest).
		Modify(). // a Select, to Scan
		Scan(ctx, &rows)
	return rows, err
}

// posts reads the page's posts with their highlights.
func (s *Service) posts(ctx context.Context, m postMatcher, at postPosition, args PageArgs, rows []rankedRow) ([]*PostEdge, ent.PageInfo, error) {
	rows, info := page(rows, args)
	ids := idsOf(rows, func(r rankedRow) int { return r.ID })
	type highlights struct {
		ID          int    `sql:"id"`
		Title       string `sql:"title_highlight"`
		Description string `sql:"description_snippet"`
		Body        string `sql:"body_snippet"`
	}
	var hs []highlights
	if len(ids) > 0 {
		err := s.searchable(at.asOf).
			Modify(func(sel *sql.Selector) {
				m.highlights(sel)
				m.among(sel, ids)
				sel.Select(sel.C(post.FieldID))
				sel.AppendSelectExprAs(m.titleHighlight(sel), "title_highlight")
				sel.AppendSelectExprAs(m.snippet(sel, post.FieldDescription), "description_snippet")
				sel.AppendSelectExprAs(m.snippet(sel, post.FieldBody), "body_snippet")
			}).
			Scan(ctx, &hs)
		if err != nil {
			return nil, info, fmt.Errorf("search posts: %w", err)
		}
	}
	byID := make(map[int]highlights, len(hs))
	for _, h := range hs {
		byID[h.ID] = h
	}
	nodes, err := loader.Nodes(ctx, s.client, ids)
	if err != nil {
		return nil, info, err
	}
	edges := []*PostEdge{}
	for i, r := range rows {
		p, _ := nodes[i].(*ent.Post)
		h, ok := byID[r.ID]
		if p == nil || !ok { // deleted or hidden since the search read it
			continue
		}
		body := h.Body
		// A members-only body the viewer may not read gives no passage: the description does.
		if ok, err := loader.ViewerReadsBody(ctx, p); err != nil {
			return nil, info, err
		} else if !ok {
			body = ""
		}
		edges = append(edges, &PostEdge{
			Node:           p,
			Cursor:         encodePostCursor(postPosition{score: r.Score, id: r.ID, asOf: at.asOf}),
			Score:          r.Score,
			TitleHighlight: parseHighlight(h.Title),
			Snippet:        snippet(h.Description, body),
		})
	}
	if n := len(edges); n > 0 {
		info.StartCursor, info.EndCursor = &edges[0].Cursor, &edges[n-1].Cursor
	}
	return edges, info, nil
}

// page cuts the extra row read to tell whether a next page exists.
func page[T any](rows []T, args PageArgs) ([]T, ent.PageInfo) {
	info := ent.PageInfo{HasPreviousPage: args.After != nil}
	if len(rows) > args.First {
		info.HasNextPage = true
		rows = rows[:args.First]
	}
	return rows, info
}

func idsOf[T any](rows []T, id func(T) int) []int {
	ids := make([]int, len(rows))
	for i, r := range rows {
		ids[i] = id(r)
	}
	return ids
}

// searchable are the posts a search may return, before privacy rules: published by then, and
// not by a banned user. The banned users are read once, from their partial index (user_banned),
// where looking up each match's author cost a search a quarter of its time for a common word.
func (s *Service) searchable(asOf time.Time) *ent.PostQuery {
	return s.client.Post.Query().Where(
		post.StatusEQ(post.StatusPUBLISHED),
		post.PublishedAtLTE(asOf),
		func(sel *sql.Selector) {
			users := sql.Table(user.Table)
			sel.Where(sql.NotIn(sel.C(post.FieldAuthorID),
				sql.Select(users.C(user.FieldID)).From(users).Where(sql.NotNull(users.C(user.FieldBannedAt)))))
		},
	)
}

// snippet is the passage of the body around the words that matched, as plain text, or of the
// description when the body has none; the start of the body when neither matched (a title or tag
// match).
func snippet(description, body string) Highlight {
	b := parseHighlight(plainMarkdown(body))
	if b.Matched() {
		return b
	}
	if d := parseHighlight(description); d.Matched() || b.Text == "" {
		return d
	}
	return b
}

// postMatcher writes a post search's SQL for one dialect.
type postMatcher struct {
	column         func(string) string                          // a column of posts, named by its table
	join           func(*sql.Selector)                          // only the posts that match, with what relevance reads
	highlights     func(*sql.Selector)                          // what titleHighlight and snippet read
	among          func(*sql.Selector, []int)                   // only the posts of these IDs
	relevance      func(*sql.Selector, *sql.Builder)            // text relevance, higher is better
	ageDays        func(*sql.Selector, *sql.Builder, time.Time) // days since publication, as of a moment
	titleHighlight func(*sql.Selector) sql.Querier              // the title with matches marked
	snippet        func(*sql.Selector, string) sql.Querier      // passages of a column around the matches, marked
}

func (s *Service) postMatcher(q Query) postMatcher {
	// The posts' columns are named by their table, also where the statement nests them in
	// another (ranked).
	d := dialect.SQLite
	if s.postgres {
		d = dialect.Postgres
	}
	posts := sql.Dialect(d).Table(post.Table)
	if s.postgres {
		// The query's text is written into the statement, not passed as an argument: PostgreSQL
		// then plans each search for how common its words are (walk the newest posts for a
		// common word, read the text index for a rare one), where a prepared statement's generic
		// plan guesses every word rare and reads every match of a common one. WebSearch holds
		// only letters, digits, spaces, '"' and '-', but literal quotes it anyway.
		text := literal(q.WebSearch())
		tsquery := func(b *sql.Builder) {
			b.WriteString("websearch_to_tsquery('english', " + text + ")")
		}
		headline := func(sel *sql.Selector, column, options string) sql.Querier {
			return sql.ExprFunc(func(b *sql.Builder) {
				b.WriteString("ts_headline('english', ").Ident(posts.C(column)).WriteString(", ")
				tsquery(b)
				b.WriteString(", ").Arg(options).WriteString(")")
			})
		}
		// PostgreSQL estimates a phrase to match as many posts as its words do together; for
		// common words it then walks the newest posts, reading each one's document, and for a
		// phrase in 1% of them reads them all (250 ms on the benchmark's 20,000 posts). Reading the
		// matches from the text index instead (OFFSET 0 keeps the subquery planned on its own)
		// bounds that by one pass over the documents with both words, at the price of a common
		// phrase, which the walk would find early. On the benchmark's 50 phrases: 83 req/s instead
		// of 55 at 16 connections, the slowest phrase 223 ms instead of 254.
		join := func(sel *sql.Selector) { // each match's document, read once: to match and to rank
			sel.AppendFromExpr(sql.Expr("post_search"))
			sel.Where(sql.P(func(b *sql.Builder) {
				b.WriteString("post_search.post_id = ").Ident(posts.C(post.FieldID)).WriteString(" AND post_search.document @@ ")
				tsquery(b)
			}))
		}
		relevance := func(_ *sql.Selector, b *sql.Builder) {
			b.WriteString("ts_rank(post_search.document, ")
			tsquery(b)
			b.WriteString(")")
		}
		if q.HasPhrase() {
			// The matches from the text index, planned on their own (OFFSET 0); the newest
			// maxRanked of them read their documents again, by key, to be ranked: carrying every
			// match's document through the sort by age cost more.
			join = func(sel *sql.Selector) {
				sel.Where(sql.P(func(b *sql.Builder) {
					b.Ident(posts.C(post.FieldID)).WriteString(" IN (SELECT post_id FROM post_search WHERE document @@ ")
					tsquery(b)
					b.WriteString(" OFFSET 0)")
				}))
			}
			relevance = func(_ *sql.Selector, b *sql.Builder) {
				b.WriteString("(SELECT ts_rank(document, ")
				tsquery(b)
				b.WriteString(") FROM post_search WHERE post_search.post_id = ").Ident(posts.C(post.FieldID)).WriteString(")")
			}
		}
		return postMatcher{
			column:     posts.C,
			join:       join,
			relevance:  relevance,
			highlights: func(*sql.Selector) {}, // ts_headline reads the posts' own columns
			among: func(sel *sql.Selector, ids []int) { // one argument, whatever the number of IDs
				sel.Where(sql.P(func(b *sql.Builder) {
					b.Ident(posts.C(post.FieldID)).WriteString(" = ANY(").Arg(int64s(ids)).WriteString(")")
				}))
			},
			ageDays: func(sel *sql.Selector, b *sql.Builder, asOf time.Time) {
				b.WriteString("greatest(date_part('epoch', ").Arg(asOf).WriteString("::timestamptz - ").
					Ident(posts.C(post.FieldPublishedAt)).WriteString("), 0) / 86400") // in float8: numeric would cost a third more
			},
			titleHighlight: func(sel *sql.Selector) sql.Querier {
				return headline(sel, post.FieldTitle, "HighlightAll=true, StartSel="+markStart+", StopSel="+markStop)
			},
			snippet: func(sel *sql.Selector, column string) sql.Querier {
				return headline(sel, column, `MaxFragments=2, MaxWords=24, MinWords=8, FragmentDelimiter=" … ", StartSel=`+markStart+", StopSel="+markStop)
			},
		}
	}
	match := q.FTS5()
	column := map[string]int{post.FieldTitle: 0, post.FieldDescription: 2, post.FieldBody: 3} // as in the migration
	join := func(sel *sql.Selector) {
		sel.Join(sql.Table("post_search").As("post_search")).OnP(sql.ExprP("post_search.rowid = " + posts.C(post.FieldID)))
		sel.Where(sql.P(func(b *sql.Builder) { b.WriteString("post_search MATCH ").Arg(match) }))
	}
	return postMatcher{
		column:     posts.C,
		join:       join,
		highlights: join, // highlight() and snippet() read the match
		among: func(sel *sql.Selector, ids []int) {
			sel.Where(sql.InInts(posts.C(post.FieldID), ids...))
		},
		relevance: func(_ *sql.Selector, b *sql.Builder) { b.WriteString("-bm25(post_search, 5.0, 5.0, 2.0, 1.0)") },
		ageDays: func(sel *sql.Selector, b *sql.Builder, asOf time.Time) {
			b.WriteString("max(julianday(").Arg(asOf).WriteString(") - julianday(").Ident(posts.C(post.FieldPublishedAt)).WriteString("), 0)")
		},
		titleHighlight: func(*sql.Selector) sql.Querier {
			return sql.Expr(fmt.Sprintf("highlight(post_search, %d, char(2), char(3))", column[post.FieldTitle]))
		},
		snippet: func(_ *sql.Selector, c string) sql.Querier {
			return sql.Expr(fmt.Sprintf("snippet(post_search, %d, char(2), char(3), ' … ', 24)", column[c]))
		},
	}
}

// score writes a post's score (see freshnessDays) as of a moment: likes given since do not count.
func (m postMatcher) score(sel *sql.Selector, asOf time.Time) sql.Querier {
	return sql.ExprFunc(func(b *sql.Builder) {
		b.WriteString("(")
		m.relevance(sel, b)
		b.WriteString(fmt.Sprintf(" * (1 + ln(1 + CAST((SELECT count(*) FROM likes WHERE likes.post_id = %s AND likes.created_at <= ", m.column(post.FieldID))).
			Arg(asOf).WriteString(fmt.Sprintf(") AS double precision)) / %d)", popularityDiv))
		b.WriteString(" / (1 + ")
		m.ageDays(sel, b, asOf)
		b.WriteString(fmt.Sprintf(" / %d))", freshnessDays))
	})
}

// literal is text as a PostgreSQL string literal, quoted as quote_literal does (a parsed query
// has nothing to quote: its words are letters and digits).
func literal(text string) string {
	q := "'" + strings.ReplaceAll(text, "'", "''") + "'"
	if strings.Contains(text, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

func int64s(ids []int) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

func encodePostCursor(p postPosition) ent.Cursor {
	return ent.Cursor{ID: p.id, Value: strconv.FormatFloat(p.score, 'g', -1, 64) + " " + strconv.FormatInt(p.asOf.UnixMicro(), 10)}
}

func decodePostCursor(c *ent.Cursor) (postPosition, error) {
	bad := apperr.InvalidField("after", "not a cursor of this search")
	v, ok := c.Value.(string)
	if !ok {
		return postPosition{}, bad
	}
	score, asOf, ok := strings.Cut(v, " ")
	f, err1 := strconv.ParseFloat(score, 64)
	us, err2 := strconv.ParseInt(asOf, 10, 64)
	if !ok || err1 != nil || err2 != nil || c.ID <= 0 {
		return postPosition{}, bad
	}
	return postPosition{score: f, id: c.ID, asOf: time.UnixMicro(us).UTC()}, nil
}
