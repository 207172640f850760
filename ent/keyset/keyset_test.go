package keyset_test

import (
	"database/sql/driver"
	"reflect"
	"testing"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/agora/agora/ent/keyset"
)

// TestIn: one array argument on PostgreSQL, whatever the count of keys; ent's IN list on SQLite and
// for keys that are not ints.
func TestIn(t *testing.T) {
	for _, c := range []struct {
		dialect string
		keys    []any
		query   string
		args    []any
	}{
		{dialect.Postgres, []any{1, 2, 3}, `SELECT * FROM "posts" WHERE "posts"."id" = ANY($1::bigint[])`, []any{[]int64{1, 2, 3}}},
		{dialect.Postgres, []any{7}, `SELECT * FROM "posts" WHERE "posts"."id" = ANY($1::bigint[])`, []any{[]int64{7}}},
		{dialect.Postgres, []any{"a", "b"}, `SELECT * FROM "posts" WHERE "posts"."id" IN ($1, $2)`, []any{"a", "b"}},
		{dialect.SQLite, []any{1, 2, 3}, "SELECT * FROM `posts` WHERE `posts`.`id` IN (?, ?, ?)", []any{1, 2, 3}},
	} {
		s := sql.Dialect(c.dialect).Select("*").From(sql.Table("posts"))
		s.Where(keyset.In(s, s.C("id"), c.keys))
		query, args := s.Query()
		if query != c.query || !reflect.DeepEqual(args, c.args) {
			t.Errorf("%s %v: %s %v; want %s %v", c.dialect, c.keys, query, args, c.query, c.args)
		}
	}
	// As the generated loads pass them.
	s := sql.Dialect(dialect.Postgres).Select("*").From(sql.Table("posts"))
	keyset.FieldIn("author_id", []int{4, 5})(s)
	s.Where(keyset.In(s, s.C("id"), []driver.Value{1, 2}))
	want := `SELECT * FROM "posts" WHERE "posts"."author_id" = ANY($1::bigint[]) AND "posts"."id" = ANY($2::bigint[])`
	if query, args := s.Query(); query != want || !reflect.DeepEqual(args, []any{[]int64{4, 5}, []int64{1, 2}}) {
		t.Errorf("%s %v; want %s", query, args, want)
	}
}
