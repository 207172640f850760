package database

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/agora/agora/ent/migrate/migrations"
)

// Migration is one versioned migration file.
type Migration struct {
	Version string // the file name's prefix, e.g. 20261122040000
	Name    string // the file name
	SQL     string
}

// Migrations returns the dialect's migrations in version order.
func Migrations(dialectName string) ([]Migration, error) {
	dir := "postgres"
	if dialectName == dialect.SQLite {
		dir = "sqlite"
	}
	fsys, err := migrations.For(dir)
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		version, _, _ := strings.Cut(n, "_")
		out = append(out, Migration{Version: version, Name: n, SQL: string(b)})
	}
	return out, nil
}

// Migrate applies the pending migrations, each in its own transaction (both dialects have
// transactional DDL, so a failed file leaves nothing half-done), then River's (the job queue's
// tables, see riverMigrator). It returns the files applied.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	all, err := Migrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	applied, err := db.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, m := range all {
		if applied[m.Version] {
			continue
		}
		if err := db.apply(ctx, m); err != nil {
			return done, err
		}
		done = append(done, m.Name)
	}
	river, err := db.riverMigrator()
	if err != nil {
		return done, err
	}
	res, err := river.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return done, fmt.Errorf("migrate River's tables: %w", err)
	}
	for _, v := range res.Versions {
		done = append(done, riverName(v.Version, v.Name))
	}
	return done, nil
}

// riverMigrator applies the migrations of River, the job queue, which ship with its module: its
// version in go.mod decides them, and they run after Agora's own, under the same lock. They are
// not Atlas files, so that Atlas's diff of the ent schema never sees River's tables.
func (db *DB) riverMigrator() (*rivermigrate.Migrator[*sql.Tx], error) {
	quiet := slog.New(slog.DiscardHandler) // Migrate's caller logs what was applied
	if db.Dialect == dialect.Postgres {
		return rivermigrate.New(riverdatabasesql.New(db.SQL), &rivermigrate.Config{Logger: quiet})
	}
	return rivermigrate.New(riversqlite.New(db.SQL), &rivermigrate.Config{Logger: quiet})
}

// riverName names River's migration version v in lists of migrations.
func riverName(v int, name string) string {
	return fmt.Sprintf("river/%03d_%s", v, strings.ReplaceAll(name, " ", "_"))
}

// migrationLock is the PostgreSQL advisory lock key that serializes migrations ("agora").
const migrationLock = 0x61676f7261

// lockMigrations makes replicas that start together on one PostgreSQL database migrate it one
// after the other: each waits for the others' files, then finds them applied. The lock is a
// transaction-scoped advisory lock on a connection of its own, held until unlock (or until that
// connection dies with its process), without the pool's statement timeout. SQLite serves one
// process and needs none.
func (db *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	if db.Dialect != dialect.Postgres {
		return func() {}, nil
	}
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	for _, stmt := range []string{"SET LOCAL statement_timeout = 0", fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLock)} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("migrate: waiting for other replicas' migrations: %w", err)
		}
	}
	return func() { _ = tx.Rollback() }, nil
}

// Pending returns the migrations not yet applied.
func (db *DB) Pending(ctx context.Context) ([]Migration, error) {
	all, err := Migrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	applied, err := db.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, m := range all {
		if !applied[m.Version] {
			out = append(out, m)
		}
	}
	river, err := db.riverMigrator()
	if err != nil {
		return nil, err
	}
	// A dry run applies nothing and names what it would apply (River's tables may not exist yet).
	res, err := river.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{DryRun: true})
	if err != nil {
		return nil, fmt.Errorf("River's migrations: %w", err)
	}
	for _, v := range res.Versions {
		out = append(out, Migration{Version: fmt.Sprintf("river/%03d", v.Version), Name: riverName(v.Version, v.Name), SQL: v.SQL})
	}
	return out, nil
}

func (db *DB) appliedVersions(ctx context.Context) (map[string]bool, error) {
	if _, err := db.SQL.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version VARCHAR(64) PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at VARCHAR(64) NOT NULL)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	rows, err := db.SQL.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func (db *DB) apply(ctx context.Context, m Migration) error {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	defer tx.Rollback()
	if db.Dialect == dialect.Postgres { // a migration may take longer than the pool's statement timeout
		if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, insertMigration(db.Dialect), m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	return nil
}

func insertMigration(d string) string {
	if d == dialect.Postgres {
		return `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`
	}
	return `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
}
