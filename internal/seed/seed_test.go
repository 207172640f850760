package seed_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/publish"
	"github.com/agora/agora/internal/pubsub"
	"github.com/agora/agora/internal/ratelimit"
	"github.com/agora/agora/internal/seed"
	"github.com/agora/agora/internal/social"
	"github.com/agora/agora/internal/testenv"
)

func TestLoadIsRepeatable(t *testing.T) {
	ctx := context.Background()
	db, err := database.Open(ctx, database.Options{SQLitePath: filepath.Join(t.TempDir(), "seed.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	events := live.New(db.Client, pubsub.NewMemory(pubsub.Options{}), log)
	q := testenv.NewQueue(db)
	notices := notify.New(db.Client, events, q, log)
	testenv.StartQueue(t, q)
	accounts := account.New(db.Client, auth.NewTokens([]byte("seed-test-secret-seed-test-secret"), nil, "agora", time.Minute), time.Hour,
		account.LoginLimits{Limiter: ratelimit.NewMemory(), PerAccount: ratelimit.Limit{Burst: 10, Per: time.Minute}, PerIP: ratelimit.Limit{Burst: 10, Per: time.Minute},
			SignUps: ratelimit.Limit{Burst: 100, Per: time.Minute}})
	for range 2 {
		if err := seed.Load(ctx, db.Client, accounts, publish.New(db.Client, events, notices), social.New(db.Client, notices)); err != nil {
			t.Fatal(err)
		}
	}
	counts := map[string]int{}
	for _, table := range []string{"users", "posts", "follows", "likes", "comments", "tags"} {
		var n int
		if err := db.SQL.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	want := map[string]int{"users": 5, "posts": 8, "follows": 8, "likes": 12, "comments": 9, "tags": 8}
	for table, n := range want {
		if counts[table] != n {
			t.Errorf("%s: %d rows, want %d", table, counts[table], n)
		}
	}
	if _, err := accounts.Login(ctx, account.LoginInput{UsernameOrEmail: "ada", Password: seed.Password}); err != nil {
		t.Fatalf("demo login: %v", err)
	}
}
