package testenv

import (
	"context"
	"path/filepath"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/agora/agora/internal/database"
)

// EachDatabase runs fn, in parallel subtests named after the dialect, with a fresh, migrated
// database of each dialect: PostgreSQL (from PostgresURL: call Main from TestMain) and SQLite.
func EachDatabase(t *testing.T, fn func(t *testing.T, db *database.DB)) {
	t.Helper()
	for _, d := range []string{dialect.Postgres, dialect.SQLite} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, OpenDatabase(t, d))
		})
	}
}

// OpenDatabase opens a fresh, migrated database of dialect d, closed when t ends.
func OpenDatabase(t testing.TB, d string) *database.DB {
	t.Helper()
	o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "test.db")}
	if d == dialect.Postgres {
		o = database.Options{PostgresURL: PostgresURL(t)}
	}
	ctx := context.Background()
	db, err := database.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
