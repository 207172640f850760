package testenv_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 on %s: got %d, %v", url, one, err)
	}
	return db
}

func TestPostgresURL(t *testing.T) {
	url1 := testenv.PostgresURL(t) // may start the cluster
	start := time.Now()
	url2 := testenv.PostgresURL(t)
	t.Logf("PostgresURL on a running cluster took %v", time.Since(start))
	if url1 == url2 {
		t.Fatalf("both calls returned %s", url1)
	}

	db1, db2 := open(t, url1), open(t, url2)
	var name1, name2 string
	db1.QueryRow("SELECT current_database()").Scan(&name1)
	db2.QueryRow("SELECT current_database()").Scan(&name2)
	if name1 == "" || name1 == name2 {
		t.Fatalf("databases not distinct: %q and %q", name1, name2)
	}

	if _, err := db1.Exec("CREATE TABLE widgets (id int)"); err != nil {
		t.Fatal(err)
	}
	var in1, in2 bool
	const q = "SELECT to_regclass('widgets') IS NOT NULL"
	if err := db1.QueryRow(q).Scan(&in1); err != nil {
		t.Fatal(err)
	}
	if err := db2.QueryRow(q).Scan(&in2); err != nil {
		t.Fatal(err)
	}
	if !in1 || in2 {
		t.Fatalf("widgets exists in db1=%v db2=%v, want true/false", in1, in2)
	}
}

// Parallel callers must each get their own database.
func TestPostgresURLParallel(t *testing.T) {
	for range 4 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			db := open(t, testenv.PostgresURL(t))
			if _, err := db.Exec("CREATE TABLE widgets (id int)"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
