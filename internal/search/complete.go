package search

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/relay"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/slug"
)

// PageArgs are the arguments of a search.
type PageArgs struct {
	Query      string
	First      int
	After      *ent.Cursor
	TotalCount bool // count all matches too
}

// Users returns a page of the people whose handle or display name has words starting with the
// words typed (each word, in any order), as-you-type: the handle typed exactly first, then handles
// that start with the text, then the other matches, each group by handle. Banned users are left
// out.
func (s *Service) Users(ctx context.Context, args PageArgs) (*ent.UserConnection, error) {
	p, err := ParsePrefix("query", args.Query)
	if err != nil {
		return nil, err
	}
	var at struct {
		rank     int
		username string
	}
	if args.After != nil {
		v, _ := args.After.Value.(string)
		rank, name, ok := strings.Cut(v, " ")
		if at.rank, err = strconv.Atoi(rank); err != nil || !ok {
			return nil, apperr.InvalidField("after", "not a cursor of this search")
		}
		at.username = name
	}
	rank := func(sel *sql.Selector) sql.Querier {
		return sql.ExprFunc(func(b *sql.Builder) {
			b.WriteString("CASE WHEN ").Ident(sel.C(user.FieldUsername)).WriteString(" = ").Arg(p.text).
				WriteString(" THEN 0 WHEN substr(").Ident(sel.C(user.FieldUsername)).WriteString(", 1, ").Arg(utf8.RuneCountInString(p.text)).
				WriteString(") = ").Arg(p.text).WriteString(" THEN 1 ELSE 2 END")
		})
	}
	type row struct {
		ID       int    `sql:"id"`
		Username string `sql:"username"`
		Rank     int    `sql:"rank"`
	}
	var rows []row
	err = s.matchingUsers(p).
		Modify(func(sel *sql.Selector) {
			sel.Select(sel.C(user.FieldID), sel.C(user.FieldUsername))
			sel.AppendSelectExprAs(rank(sel), "rank")
			if args.After != nil {
				sel.Where(sql.P(func(b *sql.Builder) {
					b.WriteString("(").Join(rank(sel)).WriteString(" > ").Arg(at.rank).
						WriteString(" OR (").Join(rank(sel)).WriteString(" = ").Arg(at.rank).
						WriteString(" AND ").Ident(sel.C(user.FieldUsername)).WriteString(" > ").Arg(at.username).WriteString("))")
				}))
			}
			sel.OrderExpr(sql.Expr("rank"), sql.Expr(sel.C(user.FieldUsername)))
			sel.Limit(args.First + 1)
		}).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("search people: %w", err)
	}
	c := &ent.UserConnection{Edges: []*ent.UserEdge{}}
	rows, c.PageInfo = page(rows, args)
	nodes, err := loader.Nodes(ctx, s.client, idsOf(rows, func(r row) int { return r.ID }))
	if err != nil {
		return nil, err
	}
	for i, r := range rows {
		if u, _ := nodes[i].(*ent.User); u != nil {
			c.Edges = append(c.Edges, &ent.UserEdge{Node: u, Cursor: ent.Cursor{ID: r.ID, Value: strconv.Itoa(r.Rank) + " " + r.Username}})
		}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &c.Edges[0].Cursor, &c.Edges[n-1].Cursor
	}
	if args.TotalCount {
		if c.TotalCount, err = s.matchingUsers(p).Count(ctx); err != nil {
			return nil, fmt.Errorf("count people: %w", err)
		}
	}
	return c, nil
}

// matchingUsers are the unbanned users whose document has every word typed as a word's start.
func (s *Service) matchingUsers(p Prefix) *ent.UserQuery {
	return s.client.User.Query().Where(user.BannedAtIsNil(), func(sel *sql.Selector) {
		sel.Where(sql.P(func(b *sql.Builder) {
			b.Ident(sel.C(user.FieldID))
			if s.postgres {
				b.WriteString(" IN (SELECT user_id FROM user_search WHERE document @@ to_tsquery('simple', ").Arg(p.TSQuery()).WriteString("))")
			} else {
				b.WriteString(" IN (SELECT rowid FROM user_search WHERE user_search MATCH ").Arg(p.FTS5()).WriteString(")")
			}
		}))
	})
}

// Tags returns a page of the tags whose names start with the text typed, normalized as tag names
// are ("Go L" is "go-l"), in name order, so the shortest completion comes first. Like every tag
// query, it leaves out tags on no post the viewer may see.
func (s *Service) Tags(ctx context.Context, args PageArgs) (*ent.TagConnection, error) {
	p, err := ParsePrefix("query", args.Query)
	if err != nil {
		return nil, err
	}
	name := slug.Tag(p.text)
	if name == "" {
		return nil, apperr.InvalidField("query", "has no letters or digits a tag name can hold")
	}
	return s.client.Tag.Query().Where(tag.NameHasPrefix(name)).
		Paginate(ctx, args.After, &args.First, nil, nil, ent.WithTagOrder(&ent.TagOrder{Field: ent.TagOrderFieldName, Direction: relay.OrderDirectionAsc}))
}
