// Package relay is what the generated Relay connections use at run time: cursors, page info, order
// directions, the cursor predicates and the nested connections' limit per parent.
//
// entgql's generated code uses entgql's own types, but the entgql package also holds its code
// generator: linking it links entc, gqlgen's codegen and go/types, whose package initializers parse
// templates and build tables at every start (about 2.4 MB of heap, 20 ms). ent/entc.go points the
// generated code here instead; `make static-check` fails when a code generator is linked again.
// Cursors keep entgql's encoding (MessagePack, unpadded base64), so clients' cursors stay valid.
package relay

import (
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vmihailenco/msgpack/v5"
)

// OrderDirection is the GraphQL enum OrderDirection.
type OrderDirection string

const (
	OrderDirectionAsc  OrderDirection = "ASC"
	OrderDirectionDesc OrderDirection = "DESC"
)

// Validate fails for a value that is neither ASC nor DESC.
func (o OrderDirection) Validate() error {
	if o != OrderDirectionAsc && o != OrderDirectionDesc {
		return fmt.Errorf("%s is not a valid OrderDirection", o)
	}
	return nil
}

func (o OrderDirection) String() string { return string(o) }

// Reverse is the other direction (a backward page reads in it).
func (o OrderDirection) Reverse() OrderDirection {
	if o == OrderDirectionDesc {
		return OrderDirectionAsc
	}
	return OrderDirectionDesc
}

// OrderTermOption orders a term of ent's SQL builder in this direction.
func (o OrderDirection) OrderTermOption() sql.OrderTermOption {
	if o == OrderDirectionAsc {
		return sql.OrderAsc()
	}
	return sql.OrderDesc()
}

func (o OrderDirection) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(o))) }

func (o *OrderDirection) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("order direction %T must be a string", v)
	}
	*o = OrderDirection(s)
	return o.Validate()
}

// PageInfo is a connection's pageInfo.
type PageInfo[T any] struct {
	HasNextPage     bool       `json:"hasNextPage"`
	HasPreviousPage bool       `json:"hasPreviousPage"`
	StartCursor     *Cursor[T] `json:"startCursor"`
	EndCursor       *Cursor[T] `json:"endCursor"`
}

// Cursor is an edge's position: its node's ID and, when the order is by another field, that
// field's value.
type Cursor[T any] struct {
	ID    T         `msgpack:"i"`
	Value ent.Value `msgpack:"v,omitempty"`
}

// MarshalGQL writes the cursor as a string: its MessagePack encoding in unpadded base64.
func (c Cursor[T]) MarshalGQL(w io.Writer) {
	b, _ := msgpack.Marshal(c) // IDs and order values are integers, strings and times: it encodes them
	out := make([]byte, 0, base64.RawStdEncoding.EncodedLen(len(b))+2)
	out = append(out, '"')
	out = base64.RawStdEncoding.AppendEncode(out, b)
	_, _ = w.Write(append(out, '"'))
}

// UnmarshalGQL reads a cursor MarshalGQL wrote.
func (c *Cursor[T]) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%T is not a string", v)
	}
	dec := msgpack.NewDecoder(base64.NewDecoder(base64.RawStdEncoding, strings.NewReader(s)))
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("cannot decode cursor: %w", err)
	}
	return nil
}

// CursorsPredicate keeps the rows after after and before before in the connection's order, by
// field (then by idField, which breaks ties) in direction, whichever way the page is read: first
// and last only choose the end a page is taken from. (entgql compares both cursors in the
// direction a page is read, so first with before, and last with after, read past the cursor;
// ent/entc.go makes the generated pagers pass the order's direction.)
func CursorsPredicate[T any](after, before *Cursor[T], idField, field string, direction OrderDirection) []func(*sql.Selector) {
	var predicates []func(*sql.Selector)
	for _, c := range []*Cursor[T]{after, before} {
		if c == nil {
			continue
		}
		byID, compare := sql.FieldLT, sql.CompositeLT
		if (direction == OrderDirectionAsc) == (c == after) {
			byID, compare = sql.FieldGT, sql.CompositeGT
		}
		if c.Value == nil {
			predicates = append(predicates, byID(idField, c.ID))
			continue
		}
		predicates = append(predicates, func(s *sql.Selector) {
			s.Where(sql.P(func(b *sql.Builder) {
				column := s.C(field)
				// An order by an edge's count selects the count under the field's name.
				if matches := s.FindSelection(field); len(matches) == 1 {
					column = matches[0]
				}
				b.Join(compare([]string{column, s.C(idField)}, c.Value, c.ID))
			}))
		})
	}
	return predicates
}

// LimitPerRow keeps the first limit rows of each partitionBy value in the order of orderBy: the
// rows are numbered per partition by a window function over the query.
func LimitPerRow(partitionBy string, limit int, orderBy ...sql.Querier) func(*sql.Selector) {
	return func(s *sql.Selector) {
		d := sql.Dialect(s.Dialect())
		s.SetDistinct(false)
		numbered := d.Select("*").
			AppendSelectExprAs(sql.RowNumber().PartitionBy(partitionBy).OrderExpr(orderBy...), "row_number").
			From(d.Table("src_query"))
		with := d.With("src_query").As(s.Clone()).With("limited_query").As(numbered)
		t := d.Table("limited_query").As(s.TableName())
		*s = *d.Select(s.UnqualifiedColumns()...).From(t).Where(sql.LTE(t.C("row_number"), limit)).Prefix(with)
	}
}

// ErrNodeNotFound is node(id:)'s error for an ID that names no node the viewer may see.
func ErrNodeNotFound(id any) *gqlerror.Error {
	err := gqlerror.Errorf("Could not resolve to a node with the global id of '%v'", id)
	errcode.Set(err, "NOT_FOUND")
	return err
}
