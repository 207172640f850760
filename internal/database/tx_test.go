package database_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// system writes the fixtures of these tests past the privacy rules, which are not theirs to test.
var system = privacy.DecisionContext(context.Background(), privacy.Allow)

// journal records effects as they run, with what another connection saw of the write then.
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, s)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// effect returns an effect that records name and whether tag name is visible to another connection
// (the root client, outside any transaction) when it runs, and whether its context still carries a
// transaction.
func effect(db *database.DB, j *journal, name, tagName string) func(context.Context) {
	return func(ctx context.Context) {
		seen, err := db.Client.Tag.Query().Where(tag.Name(tagName)).Exist(privacy.DecisionContext(ctx, privacy.Allow))
		if err != nil {
			j.add(name + ": " + err.Error())
			return
		}
		j.add(fmt.Sprintf("%s committed=%t tx=%t", name, seen, ent.TxFromContext(ctx) != nil))
	}
}

var errRollback = errors.New("roll back")

// TestAfterCommit: effects registered on a transaction run after it commits — the write is visible
// to other connections then — in the order they were registered, and never when it rolls back.
func TestAfterCommit(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		for _, tc := range []struct {
			name string
			fail func() error // how the transaction ends: nil commits
			want []string
		}{
			{name: "commit", want: []string{"first committed=true tx=false", "second committed=true tx=false"}},
			{name: "error", fail: func() error { return errRollback }},
			{name: "panic", fail: func() error { panic(errRollback) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				j := &journal{}
				tagName := "after-commit-" + tc.name
				err := func() (err error) {
					defer func() {
						if r := recover(); r != nil {
							err = fmt.Errorf("panic: %v", r)
						}
					}()
					return database.InTx(system, db.Client, func(ctx context.Context, tx *ent.Tx) error {
						database.AfterCommit(ctx, effect(db, j, "first", tagName))
						if err := tx.Tag.Create().SetName(tagName).Exec(ctx); err != nil {
							return err
						}
						database.AfterCommit(ctx, effect(db, j, "second", tagName))
						if got := j.list(); len(got) > 0 {
							t.Errorf("effects ran before the commit: %q", got)
						}
						if tc.fail != nil {
							return tc.fail()
						}
						return nil
					})
				}()
				if (err != nil) != (tc.fail != nil) {
					t.Fatalf("InTx: %v", err)
				}
				if got := j.list(); !slices.Equal(got, tc.want) {
					t.Fatalf("effects: got %q, want %q", got, tc.want)
				}
			})
		}
	})
}

// TestAfterCommitWithoutInTx: with no transaction the write is committed already and the effect
// runs at once; in a transaction InTx did not open, ent's commit hook runs it after the commit.
func TestAfterCommitWithoutInTx(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		j := &journal{}
		database.AfterCommit(system, effect(db, j, "no tx", "none"))
		if got := j.list(); !slices.Equal(got, []string{"no tx committed=false tx=false"}) {
			t.Fatalf("without a transaction: %q", got)
		}

		for _, commit := range []bool{true, false} {
			j := &journal{}
			tagName := fmt.Sprintf("foreign-%t", commit)
			tx, err := db.Client.Tx(system)
			if err != nil {
				t.Fatal(err)
			}
			ctx := ent.NewTxContext(system, tx)
			if err := tx.Tag.Create().SetName(tagName).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			database.AfterCommit(ctx, effect(db, j, "foreign", tagName))
			if got := j.list(); len(got) > 0 {
				t.Fatalf("ran before the commit: %q", got)
			}
			end, want := tx.Rollback, []string(nil)
			if commit {
				end, want = tx.Commit, []string{"foreign committed=true tx=false"}
			}
			if err := end(); err != nil {
				t.Fatal(err)
			}
			if got := j.list(); !slices.Equal(got, want) {
				t.Fatalf("commit %t: got %q, want %q", commit, got, want)
			}
		}
	})
}

// TestCollector: what the statements of one transaction add reaches the effect once, after the
// commit, at the place of the first addition; nothing when the transaction rolls back; at once
// without a transaction.
func TestCollector(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		j := &journal{}
		c := database.NewCollector(func(_ context.Context, items []string) { j.add(fmt.Sprint(items)) })
		for _, fail := range []bool{false, true} {
			err := database.InTx(system, db.Client, func(ctx context.Context, _ *ent.Tx) error {
				c.Add(ctx, "a", "b")
				database.AfterCommit(ctx, func(context.Context) { j.add("other") })
				c.Add(ctx)
				c.Add(ctx, "c")
				if fail {
					return errRollback
				}
				return nil
			})
			if !errors.Is(err, errRollback) && err != nil {
				t.Fatal(err)
			}
		}
		c.Add(system, "d")
		if got, want := j.list(), []string{"[a b c]", "other", "[d]"}; !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// TestMutationContext: an ent hook's effects follow the transaction its mutation runs in — not the
// one its context happens to carry — and run at once for a mutation outside any transaction.
func TestMutationContext(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		j := &journal{}
		db.Client.Tag.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				v, err := next.Mutate(ctx, m)
				if err == nil {
					name, _ := m.(*ent.TagMutation).Name()
					database.AfterCommit(database.MutationContext(ctx, m), effect(db, j, name, name))
				}
				return v, err
			})
		})
		// Through the root client, with a context carrying a transaction (one that has ended: on
		// SQLite a live one would block the write): committed on its own, so its effect runs at once.
		stale, err := db.Client.Tx(system)
		if err != nil {
			t.Fatal(err)
		}
		if err := stale.Rollback(); err != nil {
			t.Fatal(err)
		}
		if err := db.Client.Tag.Create().SetName("root").Exec(ent.NewTxContext(system, stale)); err != nil {
			t.Fatal(err)
		}
		if got, want := j.list(), []string{"root committed=true tx=false"}; !slices.Equal(got, want) {
			t.Fatalf("a mutation outside a transaction: got %q, want %q", got, want)
		}
		err = database.InTx(system, db.Client, func(ctx context.Context, tx *ent.Tx) error {
			// Through the transaction, with a context that does not carry it.
			if err := tx.Tag.Create().SetName("tx").Exec(system); err != nil {
				return err
			}
			if got := j.list(); len(got) != 1 {
				t.Errorf("ran before the commit: %q", got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := j.list(), []string{"root committed=true tx=false", "tx committed=true tx=false"}; !slices.Equal(got, want) {
			t.Fatalf("after the commit: got %q, want %q", got, want)
		}
	})
}

// Warm leaves the connections it opened idle in the pool, for the first requests to use.
func TestWarm(t *testing.T) {
	ctx := context.Background()
	db, err := database.Open(ctx, database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Warm(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if s := db.PoolStats(); s.Open < 4 || s.InUse != 0 {
		t.Fatalf("after Warm(4): %d open, %d in use; want at least 4 open, none in use", s.Open, s.InUse)
	}
	if err := db.Warm(ctx, 10); err != nil { // more than the pool holds: as many as it does
		t.Fatal(err)
	}
	if s := db.PoolStats(); s.Open != 6 {
		t.Fatalf("after Warm(10) on a pool of 6: %d open", s.Open)
	}
}
