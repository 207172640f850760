package database_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/testenv"
)

// BenchmarkStatement is the cost of one statement on PostgreSQL, the users of a page's authors
// (10 rows, two columns), through each layer a resolver's query passes: ent with Agora's driver,
// database/sql over pgx's stdlib, and pgx alone. A page costs about this per statement:
//
//	go test -run '^$' -bench Statement -benchmem ./internal/database
func BenchmarkStatement(b *testing.B) {
	db := testenv.OpenDatabase(b, dialect.Postgres)
	ids := make([]any, 10)
	for i := range ids {
		ids[i] = db.Client.User.Create().SetUsername(fmt.Sprintf("bench%d", i)).SetEmail(fmt.Sprintf("bench%d@example.com", i)).
			SetDisplayName("Bench").SetPasswordHash("unused").SaveX(system).ID
	}
	const query = `SELECT "id", "username" FROM "users" WHERE "id" IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	// A request's context: it has a deadline, so each layer watches it.
	ctx, cancel := context.WithTimeout(system, time.Hour)
	defer cancel()
	b.Run("ent", func(b *testing.B) {
		intIDs := make([]int, len(ids))
		for i, id := range ids {
			intIDs[i] = id.(int)
		}
		measure(b, func() int {
			return len(db.Client.User.Query().Where(user.IDIn(intIDs...)).Select(user.FieldID, user.FieldUsername).AllX(ctx))
		})
	})
	b.Run("database-sql", func(b *testing.B) {
		measure(b, func() int {
			rows, err := db.SQL.QueryContext(ctx, query, ids...)
			if err != nil {
				b.Fatal(err)
			}
			defer rows.Close()
			return readRows(b, rows)
		})
	})
	b.Run("pgx", func(b *testing.B) {
		measure(b, func() int {
			rows, err := db.Pool().Query(ctx, query, ids...)
			if err != nil {
				b.Fatal(err)
			}
			defer rows.Close()
			return readRows(b, rows)
		})
	})
}

// readRows scans the rows of the benchmark's query, from database/sql or pgx, as a page would.
func readRows(b *testing.B, rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) int {
	type row struct {
		id       int
		username string
	}
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.username); err != nil {
			b.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return len(out)
}

// measure runs read until the benchmark ends, checks that it reads 10 rows, and reports the
// process's CPU time per statement (the database's is not counted: it is another process).
func measure(b *testing.B, read func() int) {
	cpu0 := testenv.CPUTime()
	for b.Loop() {
		if n := read(); n != 10 {
			b.Fatalf("read %d rows, want 10", n)
		}
	}
	testenv.ReportCPU(b, cpu0)
}
