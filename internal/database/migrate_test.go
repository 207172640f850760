package database_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	atlas "ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	entmigrate "github.com/agora/agora/ent/migrate"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// -update writes a migration for the difference between the ent schema and the migrations:
//
//	go test ./internal/database -run TestMigrations -update -name add_something
var (
	update = flag.Bool("update", false, "write a new migration when the ent schema changed")
	name   = flag.String("name", "changes", "name of the new migration")
)

// TestMigrationsMatchSchema applies the migrations to an empty database of each dialect and asks
// ent for the changes still needed to reach its schema: there must be none.
func TestMigrationsMatchSchema(t *testing.T) {
	for _, d := range []string{dialect.Postgres, dialect.SQLite} {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			db := openEmpty(t, d)
			applied, err := db.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(applied) == 0 && !*update {
				t.Fatal("no migrations applied")
			}
			out := t.TempDir()
			if *update {
				out = filepath.Join("..", "..", "ent", "migrate", "migrations", map[string]string{dialect.Postgres: "postgres", dialect.SQLite: "sqlite"}[d])
			}
			dir, err := migrate.NewLocalDir(out)
			if err != nil {
				t.Fatal(err)
			}
			if sum, err := dir.Checksum(); err != nil || migrate.WriteSumFile(dir, sum) != nil {
				t.Fatalf("checksum %s: %v", out, err)
			}
			// Inspect mode: compare the ent schema with the migrated database itself. The client
			// has no Schema (ent/entc.go's dropSchemaClient), and Atlas reads database/sql's rows,
			// which the client's driver does not give on PostgreSQL (pgxDriver): the diff has a
			// driver of its own over db.SQL.
			err = entmigrate.NewSchema(entsql.OpenDB(d, db.SQL)).NamedDiff(ctx, *name,
				schema.WithDir(dir),
				schema.WithMigrationMode(schema.ModeInspect),
				schema.WithDialect(d),
				schema.WithFormatter(migrate.DefaultFormatter),
				schema.WithDropColumn(true),
				schema.WithDropIndex(true),
				schema.WithDiffHook(samePredicates),
			)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				return
			}
			files, _ := filepath.Glob(filepath.Join(out, "*.sql"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				t.Errorf("the ent schema and the %s migrations disagree; run `make migration NAME=...`. Missing:\n%s", d, strings.TrimSpace(string(b)))
			}
		})
	}
}

// samePredicates lets the diff take PostgreSQL's normal form of a partial index's predicate, as it
// stores it ("((status)::text = 'PUBLISHED'::text) AND (hidden_at IS NULL)"), for the predicate the
// ent schema states once for both dialects ("status = 'PUBLISHED' AND hidden_at IS NULL"), instead
// of dropping and creating the index again.
func samePredicates(next schema.Differ) schema.Differ {
	return schema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
		for _, want := range desired.Tables {
			have, ok := current.Table(want.Name)
			if !ok {
				continue
			}
			for _, idx := range want.Indexes {
				if got, ok := have.Index(idx.Name); ok {
					p1, p2 := pgPredicate(idx.Attrs), pgPredicate(got.Attrs)
					if p1 != nil && p2 != nil && normalPredicate(p1.P) == normalPredicate(p2.P) {
						p2.P = p1.P
					}
				}
			}
		}
		return next.Diff(current, desired)
	})
}

func pgPredicate(attrs []atlas.Attr) *postgres.IndexPredicate {
	for _, a := range attrs {
		if p, ok := a.(*postgres.IndexPredicate); ok {
			return p
		}
	}
	return nil
}

// normalPredicate drops what PostgreSQL adds to a predicate it stores: casts to text, parentheses.
func normalPredicate(p string) string {
	p = strings.NewReplacer("::text", "", "::character varying", "", "(", "", ")", "", " ", "").Replace(p)
	return strings.ToLower(p)
}

func openEmpty(t *testing.T, d string) *database.DB {
	t.Helper()
	o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "test.db")}
	if d == dialect.Postgres {
		o = database.Options{PostgresURL: testenv.PostgresURL(t)}
	}
	db, err := database.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// TestMigrateConcurrently: replicas that start together on one empty PostgreSQL database all
// migrate it without error, each file applied once.
func TestMigrateConcurrently(t *testing.T) {
	url := testenv.PostgresURL(t)
	const replicas = 3
	errs := make(chan error, replicas)
	for range replicas {
		go func() {
			db, err := database.Open(context.Background(), database.Options{PostgresURL: url})
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			_, err = db.Migrate(context.Background())
			errs <- err
		}()
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Errorf("a replica's migration failed: %v", err)
		}
	}
	db, err := database.Open(context.Background(), database.Options{PostgresURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all, err := database.Migrations(dialect.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.SQL.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(all) {
		t.Fatalf("schema_migrations holds %d rows (%v), want %d", n, err, len(all))
	}
}
