package database

import (
	"context"
	"database/sql"
	"net/http"
	"sync/atomic"

	"entgo.io/ent/dialect"
)

// Counter counts the SQL statements run on behalf of one request.
type Counter struct{ n atomic.Int64 }

// N is the number of statements so far.
func (c *Counter) N() int64 { return c.n.Load() }

type counterKey struct{}

// WithCounter returns a context whose statements are counted by a new Counter.
func WithCounter(ctx context.Context) (context.Context, *Counter) {
	c := &Counter{}
	return context.WithValue(ctx, counterKey{}, c), c
}

// CounterFrom returns the request's Counter, or nil.
func CounterFrom(ctx context.Context) *Counter {
	c, _ := ctx.Value(counterKey{}).(*Counter)
	return c
}

// CountStatements gives every request a Counter and reports its final count to observe.
func CountStatements(observe func(int64), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, c := WithCounter(r.Context())
		next.ServeHTTP(w, r.WithContext(ctx))
		observe(c.N())
	})
}

func count(ctx context.Context) {
	if c, ok := ctx.Value(counterKey{}).(*Counter); ok {
		c.n.Add(1)
	}
}

// countingDriver counts every statement ent sends, inside transactions too.
type countingDriver struct{ dialect.Driver }

func (d countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	count(ctx)
	return d.Driver.Exec(ctx, query, args, v)
}

func (d countingDriver) Query(ctx context.Context, query string, args, v any) error {
	count(ctx)
	return d.Driver.Query(ctx, query, args, v)
}

func (d countingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	return countingTx{tx}, err
}

// BeginTx keeps transaction options (ent calls it when the driver has it).
func (d countingDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	tx, err := d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	}).BeginTx(ctx, opts)
	return countingTx{tx}, err
}

type countingTx struct{ dialect.Tx }

func (t countingTx) Exec(ctx context.Context, query string, args, v any) error {
	count(ctx)
	return t.Tx.Exec(ctx, query, args, v)
}

func (t countingTx) Query(ctx context.Context, query string, args, v any) error {
	count(ctx)
	return t.Tx.Query(ctx, query, args, v)
}
