package database

import (
	"context"
	"fmt"

	"github.com/agora/agora/ent"
)

// InTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise. The context
// given to fn carries the transaction's client (ent.FromContext), so everything fn calls writes
// through the same transaction. Entities returned out of fn must be Unwrap()ped.
func InTx(ctx context.Context, client *ent.Client, fn func(ctx context.Context, tx *ent.Tx) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	txCtx := ent.NewTxContext(ent.NewContext(ctx, tx.Client()), tx)
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
	return nil
}
