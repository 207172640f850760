package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/agora/agora/ent"
)

// InTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise. The context
// given to fn carries the transaction's client (ent.FromContext), so everything fn calls writes
// through the same transaction, and the transaction's effects (AfterCommit), which run in the order
// they were registered once it has committed. Entities returned out of fn must be Unwrap()ped.
func InTx(ctx context.Context, client *ent.Client, fn func(ctx context.Context, tx *ent.Tx) error) error {
	// The driver (countingDriver.Tx) leaves the *sql.Tx it began in begun, so that what is not
	// ent — the job queue's inserts — can write in the same transaction (SQLTx).
	begun := &sqlTxSlot{}
	tx, err := client.Tx(context.WithValue(ctx, sqlTxKey{}, begun))
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	e := &effects{tx: tx, sqlTx: begun.tx}
	txCtx := context.WithValue(ent.NewTxContext(ent.NewContext(ctx, tx.Client()), tx), effectsKey{}, e)
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback()
			panic(r)
		}
	}()
	if err := fn(txCtx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	e.run(ctx)
	return nil
}

// AfterCommit registers an effect of a write — a cache invalidation, a live event, a notification —
// on the transaction in ctx: fn runs once that transaction has committed, and never when it rolls
// back. With no transaction in ctx the write is committed already, and fn runs at once.
//
// Effects are best-effort: they run after the write is acknowledged by the database, so one that
// fails must log or ignore its error, never undo the write. They run with a context that is not
// cancelled with the caller's (the write they follow happened whatever the client does next) and
// carries no finished transaction.
func AfterCommit(ctx context.Context, fn func(ctx context.Context)) {
	tx := ent.TxFromContext(ctx)
	if tx == nil {
		fn(ctx)
		return
	}
	if e, ok := ctx.Value(effectsKey{}).(*effects); ok && e.tx == tx {
		e.add(fn)
		return
	}
	// A transaction InTx did not open (entgql's, say): ent's commit hook runs fn.
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(ctx, tx); err != nil {
				return err
			}
			fn(context.WithoutCancel(ctx))
			return nil
		})
	})
}

// MutationContext is ctx with the transaction a mutation runs in, for the effects an ent hook
// registers: a hook's context may carry another transaction, or none, than the client the mutation
// was made on. A mutation outside any transaction is committed as soon as it succeeds, so its
// effects run at once.
func MutationContext(ctx context.Context, m ent.Mutation) context.Context {
	txm, ok := m.(interface{ Tx() (*ent.Tx, error) })
	if !ok {
		return ctx
	}
	tx, err := txm.Tx()
	switch {
	case err != nil: // not transactional
		return ent.NewTxContext(ctx, nil)
	case ent.TxFromContext(ctx) != nil:
		// Taken to be the same transaction (a request writes through the one in its context),
		// so the effects join those registered on it.
		return ctx
	}
	return ent.NewTxContext(ctx, tx)
}

// Collector gathers what the writes of one transaction add — the cache keys of each statement, say —
// for one effect after commit, so a transaction costs that effect once, not once per statement.
type Collector[T any] struct {
	run func(ctx context.Context, items []T)
}

// NewCollector returns a Collector whose effect is run.
func NewCollector[T any](run func(ctx context.Context, items []T)) *Collector[T] {
	return &Collector[T]{run: run}
}

// Add adds items to the transaction in ctx: run receives them, with every other item added to the
// same transaction, once after it commits (see AfterCommit; at the place of the first Add among
// the transaction's effects). With no transaction, run receives items at once.
func (c *Collector[T]) Add(ctx context.Context, items ...T) {
	if len(items) == 0 {
		return
	}
	tx := ent.TxFromContext(ctx)
	e, ok := ctx.Value(effectsKey{}).(*effects)
	if tx == nil || !ok || e.tx != tx {
		AfterCommit(ctx, func(ctx context.Context) { c.run(ctx, items) })
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.collected == nil {
		e.collected = map[any]any{}
	}
	if p, ok := e.collected[c].(*[]T); ok {
		*p = append(*p, items...)
		return
	}
	p := &[]T{}
	*p = append(*p, items...)
	e.collected[c] = p
	e.fns = append(e.fns, func(ctx context.Context) { c.run(ctx, *p) })
}

// SQLTx returns the database/sql transaction under the ent transaction in ctx, for writes that do
// not go through ent (River's job inserts) but must commit or roll back with it. ok is false when
// ctx has no transaction; err is set when it has one InTx did not open, whose *sql.Tx is unknown.
func SQLTx(ctx context.Context) (tx *sql.Tx, ok bool, err error) {
	etx := ent.TxFromContext(ctx)
	if etx == nil {
		return nil, false, nil
	}
	if e, found := ctx.Value(effectsKey{}).(*effects); found && e.tx == etx && e.sqlTx != nil {
		return e.sqlTx, true, nil
	}
	return nil, true, errors.New("database: the transaction in the context was not opened by database.InTx")
}

type sqlTxKey struct{}

// sqlTxSlot receives the *sql.Tx the driver begins for InTx.
type sqlTxSlot struct{ tx *sql.Tx }

type effectsKey struct{}

// effects are the effects registered on one transaction InTx opened.
type effects struct {
	tx        *ent.Tx
	sqlTx     *sql.Tx    // under tx
	mu        sync.Mutex // statements of one transaction may run concurrently
	fns       []func(context.Context)
	collected map[any]any // *Collector[T] → *[]T
}

func (e *effects) add(fn func(context.Context)) {
	e.mu.Lock()
	e.fns = append(e.fns, fn)
	e.mu.Unlock()
}

// run runs the effects in order, after the commit; ctx is the context InTx was called with.
func (e *effects) run(ctx context.Context) {
	e.mu.Lock()
	fns := e.fns
	e.fns, e.collected = nil, nil
	e.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	for _, fn := range fns {
		fn(ctx)
	}
}
