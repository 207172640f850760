package database_test

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/image"
	"github.com/agora/agora/ent/stripeevent"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// TestStatementsOutsideTransactions: what ent reads and writes outside a transaction (on
// PostgreSQL straight through pgx, pgxDriver) comes back as it went in, on both databases: every
// kind of column the schema has, set and null, the columns a modifier adds (as database/sql
// would give them), an update's count of rows, and a failing statement.
func TestStatementsOutsideTransactions(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		owner := db.Client.User.Create().SetUsername("scanner").SetEmail("scanner@example.com").
			SetDisplayName("Scanner").SetPasswordHash("unused").SaveX(system)
		attached := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
		img := db.Client.Image.Create().SetOwnerID(owner.ID).SetPurpose(image.PurposeAVATAR).SetKey("k1").
			SetFormat("png").SetWidth(640).SetHeight(480).SetSizes([]int{160, 320, 640}).SetBytes(1 << 40).
			SetColor("#a0b0c0").SetAttachedAt(attached).SaveX(system)
		got := db.Client.Image.GetX(system, img.ID)
		if got.OwnerID != owner.ID || got.Purpose != image.PurposeAVATAR || got.Key != "k1" || got.Width != 640 ||
			got.Height != 480 || !slices.Equal(got.Sizes, []int{160, 320, 640}) || got.Bytes != 1<<40 ||
			got.Status != image.StatusREADY || got.Alt != "" || got.ReleasedAt != nil ||
			got.AttachedAt == nil || !got.AttachedAt.Equal(attached) || got.CreatedAt.Sub(img.CreatedAt).Abs() >= time.Millisecond {
			t.Errorf("image read back as %+v, written as %+v", got, img)
		}

		payload := []byte{0, 1, 2, 0xff, '{', '}'}
		ev := db.Client.StripeEvent.Create().SetEventID("evt_1").SetType("invoice.paid").SetPayload(payload).SaveX(system)
		read := db.Client.StripeEvent.Query().Where(stripeevent.EventID("evt_1")).OnlyX(system)
		if !bytes.Equal(read.Payload, payload) || read.ProcessedAt != nil || read.ID != ev.ID {
			t.Errorf("stripe event read back as %+v", read)
		}
		plan := db.Client.MembershipPlan.Create().SetAuthorID(owner.ID).SetMonthlyPrice(500).SetCurrency("eur").
			SetStripeProductID("prod_1").SetStripePriceID("price_1").SaveX(system)
		if p := db.Client.MembershipPlan.GetX(system, plan.ID); !p.Active || p.MonthlyPrice != 500 {
			t.Errorf("plan read back as %+v", p)
		}

		// Columns a modifier adds, which the node keeps as the driver gives them.
		u := db.Client.User.Query().Where(user.ID(owner.ID)).Modify(func(s *sql.Selector) {
			s.AppendSelectExprAs(sql.Expr("40 + 2"), "n")
			s.AppendSelectExprAs(sql.Expr(s.C(user.FieldUsername)+" || '!'"), "s")
		}).OnlyX(system)
		for name, want := range map[string]any{"n": int64(42), "s": "scanner!"} {
			if v, err := u.Value(name); err != nil || v != want {
				t.Errorf("added column %s = %#v (%v), want %#v", name, v, err, want)
			}
		}

		// An update's count of rows, outside a transaction.
		n := db.Client.User.Update().Where(user.UsernameIn("scanner", "nobody")).SetDisplayName("Renamed").SaveX(system)
		if n != 1 {
			t.Errorf("the update reports %d rows, want 1", n)
		}
		if u := db.Client.User.GetX(system, owner.ID); u.DisplayName != "Renamed" {
			t.Errorf("display name %q after the update", u.DisplayName)
		}

		// A statement that fails returns its error, and the connection stays usable.
		_, err := db.Client.User.Query().Where(func(s *sql.Selector) { s.Where(sql.ExprP("no_such_column = 1")) }).All(system)
		if err == nil {
			t.Error("a query on a missing column succeeded")
		}
		if c := db.Client.User.Query().CountX(system); c != 1 {
			t.Errorf("%d users after the failed query, want 1", c)
		}
		if _, err := db.Client.User.Query().Order(ent.Asc(user.FieldUsername)).All(system); err != nil {
			t.Error(err)
		}
	})
}

// TestPgxRowsKeepTheirColumns: a read that finds no row has given its connection back to the pool
// before ent asks for its columns (sql.ScanSlice checks them even with no row), and the next
// statement on that connection must not change them. A statement's error comes from Query.
func TestPgxRowsKeepTheirColumns(t *testing.T) {
	db, err := database.Open(context.Background(), database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := database.QueryPgx(system, db, "SELECT 1 AS one WHERE false")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	// The pool's one connection, again: it reads another statement's field descriptions.
	other, err := database.QueryPgx(system, db, "SELECT 1 AS a, 2 AS b")
	if err != nil {
		t.Fatal(err)
	}
	for other.Next() {
	}
	other.Close()
	if columns, err := rows.Columns(); err != nil || !slices.Equal(columns, []string{"one"}) {
		t.Errorf("columns %q (%v), want [one]", columns, err)
	}
	if rows.Next() {
		t.Error("a row where none was")
	}

	// An error PostgreSQL finds while computing the first row is the query's own.
	if _, err := database.QueryPgx(system, db, "SELECT 1 / 0"); err == nil {
		t.Error("SELECT 1 / 0 was queried without an error")
	}
}

// TestStatementsForgetTheirContext: a connection back in the pool keeps nothing of the request
// its last statement (a read, a write, a transaction's COMMIT) ran for. pgx keeps that
// statement's context in the connection until the next statement, and a request's context leads
// to everything it loaded. Cancelling the context still stops a running statement.
func TestStatementsForgetTheirContext(t *testing.T) {
	db := testenv.OpenDatabase(t, dialect.Postgres)

	forgets := func(name string, statement func(context.Context) error) {
		t.Helper()
		collected := make(chan struct{}, 1)
		func() {
			results := new([1 << 16]byte) // what a request's context leads to
			runtime.AddCleanup(results, func(c chan struct{}) { c <- struct{}{} }, collected)
			if err := statement(context.WithValue(system, resultsKey{}, results)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}()
		for range 20 {
			runtime.GC()
			select {
			case <-collected:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		t.Errorf("the %s's context is still kept after the statement", name)
	}
	forgets("read", func(ctx context.Context) error {
		_, err := db.Client.User.Query().All(ctx)
		return err
	})
	forgets("write", func(ctx context.Context) error {
		_, err := db.Client.User.Update().Where(user.Username("nobody")).SetBio("").Save(ctx)
		return err
	})
	forgets("transaction", func(ctx context.Context) error {
		return database.InTx(ctx, db.Client, func(ctx context.Context, tx *ent.Tx) error {
			_, err := tx.User.Update().Where(user.Username("nobody")).SetBio("").Save(ctx)
			return err
		})
	})

	ctx, cancel := context.WithTimeout(system, 100*time.Millisecond)
	defer cancel()
	rows, err := database.QueryPgx(ctx, db, "SELECT pg_sleep(5)")
	if err == nil {
		rows.Close()
		t.Error("a statement ran to its end past its context's deadline")
	}
}

type resultsKey struct{}
