package database_test

import (
	"context"
	"testing"

	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// TestExecModes: each of pgx's exec modes a DATABASE_URL may name keeps the one statement cache it
// reads (the other gets no capacity) and runs the same parameterized statements, twice, so the
// second time is served from that cache.
func TestExecModes(t *testing.T) {
	for _, c := range []struct {
		mode                     string
		statements, descriptions int
	}{
		{"", 512, 0}, // cache_statement, pgx's default
		{"cache_describe", 0, 512},
		{"exec", 0, 0},
		{"simple_protocol", 0, 0},
	} {
		name := c.mode
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			url := testenv.PostgresURL(t)
			if c.mode != "" {
				url += "&default_query_exec_mode=" + c.mode
			}
			ctx := context.Background()
			db, err := database.Open(ctx, database.Options{PostgresURL: url})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			conn := db.Pool().Config().ConnConfig
			if conn.StatementCacheCapacity != c.statements || conn.DescriptionCacheCapacity != c.descriptions {
				t.Errorf("statement cache %d, description cache %d; want %d and %d",
					conn.StatementCacheCapacity, conn.DescriptionCacheCapacity, c.statements, c.descriptions)
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			u := db.Client.User.Create().SetUsername("mode").SetEmail("mode@example.com").
				SetDisplayName("Mode").SetPasswordHash("unused").SaveX(system)
			for range 2 {
				if n := db.Client.User.Query().Where(user.Username("mode")).CountX(system); n != 1 {
					t.Errorf("count %d, want 1", n)
				}
				if got := db.Client.User.GetX(system, u.ID); got.Email != u.Email {
					t.Errorf("read %q, want %q", got.Email, u.Email)
				}
			}
		})
	}
}
