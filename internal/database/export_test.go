package database

import (
	"context"

	entsql "entgo.io/ent/dialect/sql"
)

// QueryPgx runs query as ent's reads run on PostgreSQL (pgxDriver).
func QueryPgx(ctx context.Context, db *DB, query string, args ...any) (*entsql.Rows, error) {
	rows := &entsql.Rows{}
	return rows, pgxDriver{pool: db.pool}.Query(ctx, query, args, rows)
}
