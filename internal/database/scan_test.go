package database_test

import (
	"fmt"
	"testing"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// TestRowsScanIntoTheirOwnNodes: a query reads all its rows into the same scan values (ent's
// reuseScanValues), so each node must keep its own row's values: nullable columns set on one row
// and null on the next, strings, times, and columns a modifier adds (kept by reference).
func TestRowsScanIntoTheirOwnNodes(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		banned := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for i := range 6 {
			c := db.Client.User.Create().SetUsername(fmt.Sprintf("scan%d", i)).SetEmail(fmt.Sprintf("scan%d@example.com", i)).
				SetDisplayName(fmt.Sprintf("Scan %d", i)).SetPasswordHash("unused")
			if i%2 == 0 {
				c.SetBannedAt(banned.Add(time.Duration(i) * time.Hour))
			}
			c.SaveX(system)
		}
		all := db.Client.User.Query().Where(user.UsernameHasPrefix("scan")).Order(ent.Asc(user.FieldUsername)).AllX(system)
		if len(all) != 6 {
			t.Fatalf("read %d users, want 6", len(all))
		}
		for i, u := range all {
			one := db.Client.User.GetX(system, u.ID)
			if u.Username != one.Username || u.DisplayName != one.DisplayName || !u.CreatedAt.Equal(one.CreatedAt) ||
				(u.BannedAt == nil) != (one.BannedAt == nil) || (u.BannedAt != nil && !u.BannedAt.Equal(*one.BannedAt)) {
				t.Errorf("row %d read as %s %q banned %v, alone as %s %q banned %v", i, u.Username, u.DisplayName, u.BannedAt, one.Username, one.DisplayName, one.BannedAt)
			}
			if want := i%2 == 0; (u.BannedAt != nil) != want {
				t.Errorf("row %d (%s): banned_at %v, want set=%t", i, u.Username, u.BannedAt, want)
			}
		}

		// A column added by a modifier is read with Value, from each node's own row.
		withLen := db.Client.User.Query().Where(user.UsernameHasPrefix("scan")).Order(ent.Asc(user.FieldUsername)).
			Modify(func(s *sql.Selector) { s.AppendSelectExprAs(sql.Expr(s.C(user.FieldUsername)+" || 'x'"), "tagged") }).
			AllX(system)
		for i, u := range withLen {
			v, err := u.Value("tagged")
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(v); got != u.Username+"x" {
				t.Errorf("row %d (%s): the added column reads %q", i, u.Username, got)
			}
		}
	})
}
