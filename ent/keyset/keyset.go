// Package keyset writes "this column holds one of these keys" for ent's queries so that the
// statement's text does not depend on how many keys there are: on PostgreSQL one array argument,
// column = ANY($1::bigint[]). An IN list made a statement per count of keys, which pgx prepares
// anew on each connection. On SQLite, and for keys that are not ints, it is ent's IN list.
//
// ent/entc.go makes the generated code use it: the In predicates of int fields (where.go, which
// loaders and many-to-one eager loads use) and the other eager loads' keys (ent/template/through.tmpl).
package keyset

import (
	"database/sql/driver"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
)

// In is the predicate that column (qualified, as s.C gives it) holds one of keys.
func In[K any](s *sql.Selector, column string, keys []K) *sql.Predicate {
	ids, ok := Int64s(keys)
	if s.Dialect() != dialect.Postgres || !ok {
		values := make([]driver.Value, len(keys))
		for i, k := range keys {
			values[i] = k
		}
		return sql.InValues(column, values...)
	}
	return sql.P(func(b *sql.Builder) {
		b.WriteString(column).WriteString(" = ANY(").Arg(ids).WriteString("::bigint[])")
	})
}

// FieldIn is In on the selector's field, in place of ent's sql.FieldIn.
func FieldIn(field string, keys []int) func(*sql.Selector) {
	return func(s *sql.Selector) {
		s.Where(In(s, s.C(field), keys))
	}
}

// Int64s is keys as int64s, if each is an int.
func Int64s[K any](keys []K) ([]int64, bool) {
	ids := make([]int64, len(keys))
	for i, k := range keys {
		id, ok := any(k).(int)
		if !ok {
			return nil, false
		}
		ids[i] = int64(id)
	}
	return ids, true
}
