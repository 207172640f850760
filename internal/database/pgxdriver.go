package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgxDriver is ent's driver on PostgreSQL. A statement outside a transaction — every read of a
// request — runs on the pgx pool itself and scans its values straight from pgx's raw rows.
// database/sql (stdlib.OpenDBFromPool) cost each such statement a driver connection wrapper, a
// goroutine watching the context, and a boxed value per column and row, which the scan then
// copied out again. Transactions still go through database/sql over the same pool (the embedded
// driver): the job queue writes in them through the *sql.Tx (SQLTx). ent's session variables
// (entsql.WithVar) are not set on this path: Agora uses none. ent's schema tools read
// database/sql's rows, so they need a driver over DB.SQL (as TestMigrationsMatchSchema makes).
type pgxDriver struct {
	*entsql.Driver
	pool *pgxpool.Pool
}

func (d pgxDriver) Exec(ctx context.Context, query string, args, v any) error {
	argv, err := argList(args)
	if err != nil {
		return err
	}
	sc := newStatementContext(ctx)
	tag, err := d.pool.Exec(sc, query, argv...)
	sc.done()
	if err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
	case *sql.Result:
		*v = rowsAffected(tag.RowsAffected())
	default:
		return fmt.Errorf("database: invalid type %T, expect *sql.Result", v)
	}
	return nil
}

func (d pgxDriver) Query(ctx context.Context, query string, args, v any) error {
	vr, ok := v.(*entsql.Rows)
	if !ok {
		return fmt.Errorf("database: invalid type %T, expect *sql.Rows", v)
	}
	argv, err := argList(args)
	if err != nil {
		return err
	}
	sc := newStatementContext(ctx)
	rows, err := d.pool.Query(sc, query, argv...)
	if err != nil {
		sc.done()
		return err
	}
	// The columns are copied first: when Next finds no row, pgxpool releases the connection,
	// whose field descriptions are then the next statement's. The first row is read here, as
	// database/sql's pgx driver does, so that the statement's error (a bad argument, a timeout)
	// is the query's, not found later by rows.Err.
	r := &pgxRows{rows: rows, ctx: sc, types: rows.Conn().TypeMap(), fields: slices.Clone(rows.FieldDescriptions()), first: true}
	r.more = rows.Next()
	if err := rows.Err(); err != nil {
		r.Close()
		return err
	}
	*vr = entsql.Rows{ColumnScanner: r}
	return nil
}

// statementContext is the context a statement runs with: its caller's until the statement is
// done, then only the caller's cancellation. pgx keeps a connection's last statement's context
// (in pgconn's ResultReader) until the connection's next statement, and a request's context leads,
// through its field contexts and loaders, to all the request loaded: each connection idle in the
// pool kept one request's results alive (after the posts page's load, 1.5 of the 5.3 MB live heap).
type statementContext struct {
	// What never changes, as context.Context requires: a goroutine pgx or its pool left behind
	// (a connection still being opened for a cancelled statement) may wait on it after the end.
	cancelled   <-chan struct{}
	deadline    time.Time
	hasDeadline bool

	mu  sync.Mutex
	ctx context.Context // the caller's; nil once the statement is done
	err error           // its Err, once done
}

func newStatementContext(ctx context.Context) *statementContext {
	c := &statementContext{ctx: ctx, cancelled: ctx.Done()}
	c.deadline, c.hasDeadline = ctx.Deadline()
	return c
}

// done forgets the caller's context once pgx is done with the statement: its rows closed, its
// result read, its transaction ended.
func (c *statementContext) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil {
		c.err, c.ctx = c.ctx.Err(), nil
	}
}

func (c *statementContext) Deadline() (time.Time, bool) { return c.deadline, c.hasDeadline }
func (c *statementContext) Done() <-chan struct{}       { return c.cancelled }

func (c *statementContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil {
		return c.ctx.Err()
	}
	if c.err == nil && c.cancelled != nil {
		select {
		case <-c.cancelled: // cancelled after the statement
			c.err = context.Canceled
		default:
		}
	}
	return c.err
}

// Value is the caller's while the statement runs: context.AfterFunc (pgx's cancellation) finds
// the caller's cancellation through it, and waits on it without a goroutine of its own.
func (c *statementContext) Value(key any) any {
	c.mu.Lock()
	ctx := c.ctx
	c.mu.Unlock()
	if ctx == nil {
		return nil
	}
	return ctx.Value(key)
}

// argList is a statement's arguments as ent gives them.
func argList(args any) ([]any, error) {
	argv, ok := args.([]any)
	if !ok {
		return nil, fmt.Errorf("database: invalid type %T, expect []any for args", args)
	}
	return argv, nil
}

// rowsAffected is an Exec's sql.Result.
type rowsAffected int64

func (n rowsAffected) RowsAffected() (int64, error) { return int64(n), nil }
func (rowsAffected) LastInsertId() (int64, error) {
	return 0, errors.New("database: LastInsertId is not supported by PostgreSQL")
}

// pgxRows are pgx's rows as ent reads them (entsql.ColumnScanner).
type pgxRows struct {
	rows        pgx.Rows
	ctx         *statementContext
	types       *pgtype.Map
	fields      []pgconn.FieldDescription
	first, more bool // the first row, read by Query
	columns     []string
	plans       []scanPlan
}

func (r *pgxRows) Next() bool {
	if r.first {
		r.first = false
		return r.more
	}
	return r.rows.Next()
}

func (r *pgxRows) Close() error {
	r.rows.Close()
	r.ctx.done()
	return r.rows.Err()
}

func (r *pgxRows) Err() error          { return r.rows.Err() }
func (r *pgxRows) NextResultSet() bool { return false }

func (r *pgxRows) ColumnTypes() ([]*sql.ColumnType, error) {
	return nil, errors.New("database: column types are not available on pgx rows")
}

func (r *pgxRows) Columns() ([]string, error) {
	if r.columns == nil {
		r.columns = make([]string, len(r.fields))
		for i, f := range r.fields {
			r.columns[i] = f.Name
		}
	}
	return r.columns, nil
}

// Scan reads the current row into dest. database/sql's Null types are read through their value
// field, so that pgx decodes into it directly (an int or a time without an allocation); any other
// destination is pgx's to scan, as pgx.Rows.Scan would. Each column keeps its scan plan while its
// destination's type stays the same, as pgx.Rows does: the rows of a query scan into the same
// values (ent/template/scan.tmpl).
func (r *pgxRows) Scan(dest ...any) error {
	fields, values := r.fields, r.rows.RawValues()
	if len(dest) != len(values) {
		return fmt.Errorf("database: %d destinations for %d columns", len(dest), len(values))
	}
	if r.plans == nil {
		r.plans = make([]scanPlan, len(values))
	}
	for i, d := range dest {
		src := values[i]
		var target any
		var err error
		switch d := d.(type) {
		case *sql.NullString:
			target = nullTarget(&d.Valid, &d.String, src)
		case *sql.NullInt64:
			target = nullTarget(&d.Valid, &d.Int64, src)
		case *sql.NullTime:
			target = nullTarget(&d.Valid, &d.Time, src)
		case *sql.NullBool:
			target = nullTarget(&d.Valid, &d.Bool, src)
		case *sql.NullFloat64:
			target = nullTarget(&d.Valid, &d.Float64, src)
		case *entsql.UnknownType:
			*d, err = r.value(fields[i], src)
		case *any:
			*d, err = r.value(fields[i], src)
		default:
			target = d
		}
		if target != nil {
			p := &r.plans[i]
			if t := reflect.TypeOf(target); p.plan == nil || p.target != t {
				p.plan, p.target = r.types.PlanScan(fields[i].DataTypeOID, fields[i].Format, target), t
			}
			err = p.plan.Scan(src, target)
		}
		if err != nil {
			return fmt.Errorf("database: scan column %d (%s): %w", i, fields[i].Name, err)
		}
	}
	return nil
}

// nullTarget sets a database/sql Null value from src's being NULL or not, and returns its value
// field to scan src into (none for NULL, with the field zeroed).
func nullTarget[T any](valid *bool, v *T, src []byte) any {
	var zero T
	*valid, *v = src != nil, zero
	if src == nil {
		return nil
	}
	return v
}

// scanPlan is a column's pgx scan plan for a destination type.
type scanPlan struct {
	plan   pgtype.ScanPlan
	target reflect.Type
}

// value is a column's value as database/sql would give it (sql.Scanner's types).
func (r *pgxRows) value(field pgconn.FieldDescription, src []byte) (any, error) {
	oid, format := field.DataTypeOID, field.Format
	if src == nil {
		return nil, nil
	}
	if t, ok := r.types.TypeForOID(oid); ok {
		return t.Codec.DecodeDatabaseSQLValue(r.types, oid, format, src)
	}
	if format == pgtype.TextFormatCode {
		return string(src), nil
	}
	return append([]byte(nil), src...), nil
}
