package database

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/agora/agora/internal/telemetry"
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

// run counts a statement and, when the request is traced, runs it in a span "db NAME" (the
// statement's first word) with db.system and the statement text: placeholders, never arguments.
func run(ctx context.Context, system, query string, do func(context.Context) error) error {
	count(ctx)
	ctx, span := telemetry.StartChild(ctx, "db", trace.SpanKindClient)
	if !span.IsRecording() {
		return do(ctx)
	}
	defer span.End()
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	span.SetName("db " + strings.ToUpper(op))
	span.SetAttributes(attribute.String("db.system", system), attribute.String("db.statement", query))
	err := do(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "statement failed")
	}
	return err
}

// dbSystem is the OpenTelemetry name of an ent dialect.
func dbSystem(d string) string {
	switch d {
	case dialect.Postgres:
		return "postgresql"
	case dialect.SQLite:
		return "sqlite"
	}
	return d
}

// countingDriver counts every statement ent sends, inside transactions too, traces them, and
// shows them to on (Options.OnStatement) when it is set.
type countingDriver struct {
	dialect.Driver
	on func(ctx context.Context, query string, args []any)
}

func (d countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.show(ctx, query, args)
	return run(ctx, dbSystem(d.Dialect()), query, func(ctx context.Context) error { return d.Driver.Exec(ctx, query, args, v) })
}

func (d countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.show(ctx, query, args)
	return run(ctx, dbSystem(d.Dialect()), query, func(ctx context.Context) error { return d.Driver.Query(ctx, query, args, v) })
}

func (d countingDriver) show(ctx context.Context, query string, args any) {
	if d.on != nil {
		list, _ := args.([]any)
		d.on(ctx, query, list)
	}
}

func (d countingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	sc := newStatementContext(ctx)
	tx, err := d.Driver.Tx(sc)
	if err != nil {
		sc.done()
	}
	keepSQLTx(ctx, tx)
	return countingTx{tx, dbSystem(d.Dialect()), d, sc}, err
}

// keepSQLTx hands the *sql.Tx under tx to InTx, when it asked for it (SQLTx).
func keepSQLTx(ctx context.Context, tx dialect.Tx) {
	slot, ok := ctx.Value(sqlTxKey{}).(*sqlTxSlot)
	if !ok {
		return
	}
	if t, ok := tx.(*entsql.Tx); ok {
		slot.tx, _ = t.Tx.(*sql.Tx)
	}
}

// BeginTx keeps transaction options (ent calls it when the driver has it).
func (d countingDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	sc := newStatementContext(ctx)
	tx, err := d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	}).BeginTx(sc, opts)
	if err != nil {
		sc.done()
	}
	keepSQLTx(ctx, tx)
	return countingTx{tx, dbSystem(d.Dialect()), d, sc}, err
}

// countingTx is a transaction begun with ctx, which it forgets when it ends (statementContext):
// the connection's last statement is its COMMIT or ROLLBACK, which run with that context.
type countingTx struct {
	dialect.Tx
	system string
	drv    countingDriver
	ctx    *statementContext
}

func (t countingTx) Commit() error {
	defer t.ctx.done()
	return t.Tx.Commit()
}

func (t countingTx) Rollback() error {
	defer t.ctx.done()
	return t.Tx.Rollback()
}

func (t countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.drv.show(ctx, query, args)
	return run(ctx, t.system, query, func(ctx context.Context) error { return t.Tx.Exec(ctx, query, args, v) })
}

func (t countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.drv.show(ctx, query, args)
	return run(ctx, t.system, query, func(ctx context.Context) error { return t.Tx.Query(ctx, query, args, v) })
}
