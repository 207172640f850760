// Package database opens the store behind ent: PostgreSQL through a pgx pool, or an embedded SQLite
// file, and applies the versioned migrations.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/agora/agora/ent"
	_ "github.com/agora/agora/ent/runtime" // registers ent hooks, interceptors and policies
	"github.com/agora/agora/internal/telemetry"
)

// DB is an open database with its ent client.
type DB struct {
	Client *ent.Client
	// SQL is database/sql: on PostgreSQL over the pgx pool, for ent's transactions (pgxDriver), the
	// migrations and the job queue.
	SQL     *sql.DB
	Dialect string // dialect.Postgres or dialect.SQLite
	close   func()
	pool    *pgxpool.Pool // PostgreSQL's connections, under SQL (nil on SQLite)
}

// Pool is PostgreSQL's pgx pool under SQL (nil on SQLite), for what needs pgx itself: the job
// queue's LISTEN connection.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Warm opens up to n of PostgreSQL's pool connections at once and leaves them idle, so that the
// first requests after a start do not each wait for a connection to open (on SQLite it does
// nothing). The pool closes them again after its idle time if nothing uses them.
func (db *DB) Warm(ctx context.Context, n int) error {
	if db.pool == nil {
		return nil
	}
	n = min(n, int(db.pool.Config().MaxConns))
	conns := make([]*pgxpool.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], errs[i] = db.pool.Acquire(ctx) })
	}
	wg.Wait()
	var failed []error
	for i, c := range conns {
		if c != nil {
			c.Release()
		} else {
			failed = append(failed, errs[i])
		}
	}
	if len(failed) > 0 { // the same error each time, as a rule: the first says why
		return fmt.Errorf("%d of %d connections failed: %w", len(failed), n, failed[0])
	}
	return nil
}

// PoolStats are the figures of the connections pool: on PostgreSQL the pgx pool's, which holds
// the connections (SQL is stdlib.OpenDBFromPool's wrapper over it, whose own statistics see a
// connection only while a call uses it), on SQLite database/sql's.
func (db *DB) PoolStats() telemetry.PoolStats {
	if db.pool != nil {
		s := db.pool.Stat()
		return telemetry.PoolStats{MaxConnections: int(s.MaxConns()), Open: int(s.TotalConns()), InUse: int(s.AcquiredConns()),
			Idle: int(s.IdleConns()), Waits: s.EmptyAcquireCount(), WaitTime: s.EmptyAcquireWaitTime()}
	}
	s := db.SQL.Stats()
	return telemetry.PoolStats{MaxConnections: s.MaxOpenConnections, Open: s.OpenConnections, InUse: s.InUse, Idle: s.Idle,
		Waits: s.WaitCount, WaitTime: s.WaitDuration}
}

// ConnectTimeout bounds each new PostgreSQL connection unless DATABASE_URL sets connect_timeout.
const ConnectTimeout = 3 * time.Second

// Options say which database to open.
type Options struct {
	PostgresURL string // when set, PostgreSQL; otherwise SQLite at SQLitePath
	SQLitePath  string
	MaxConns    int // PostgreSQL pool size
	// StatementTimeout is PostgreSQL's statement_timeout on every connection of the pool: the
	// server cancels a statement running longer (0 leaves the server's setting).
	StatementTimeout time.Duration
	// OnStatement, when set, is called with every statement ent sends, with its context and
	// arguments, before it runs: tests capture the SQL of a request with it (to EXPLAIN it).
	OnStatement func(ctx context.Context, query string, args []any)
}

// unusedCacheOff gives no capacity to the per-connection cache the exec mode never reads. pgx makes
// both up front, each a map sized for its capacity (512 by default: about 26 kB per connection).
func unusedCacheOff(c *pgx.ConnConfig) {
	switch c.DefaultQueryExecMode {
	case pgx.QueryExecModeCacheStatement:
		c.DescriptionCacheCapacity = 0
	case pgx.QueryExecModeCacheDescribe: // for poolers in transaction mode (default_query_exec_mode=cache_describe)
		c.StatementCacheCapacity = 0
	default:
		c.StatementCacheCapacity, c.DescriptionCacheCapacity = 0, 0
	}
}

// Open connects to the database and checks that it answers.
func Open(ctx context.Context, o Options) (*DB, error) {
	db, err := open(ctx, o)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.SQL.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database: connect: %w", err)
	}
	return db, nil
}

func open(ctx context.Context, o Options) (*DB, error) {
	if o.PostgresURL != "" {
		cfg, err := pgxpool.ParseConfig(o.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("database: DATABASE_URL: %w", err)
		}
		if o.MaxConns > 0 {
			cfg.MaxConns = int32(o.MaxConns)
		}
		if cfg.ConnConfig.ConnectTimeout == 0 { // the URL's connect_timeout wins
			// A server that does not answer fails the request that needs a connection quickly
			// (as SERVICE_UNAVAILABLE) instead of holding it until the client gives up.
			cfg.ConnConfig.ConnectTimeout = ConnectTimeout
		}
		unusedCacheOff(cfg.ConnConfig)
		if o.StatementTimeout > 0 {
			cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		sqlDB := stdlib.OpenDBFromPool(pool)
		drv := countingDriver{pgxDriver{entsql.OpenDB(dialect.Postgres, sqlDB), pool}, o.OnStatement}
		return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: sqlDB, Dialect: dialect.Postgres, pool: pool,
			close: func() { sqlDB.Close(); pool.Close() }}, nil
	}
	sqlDB, err := sql.Open("sqlite", sqliteDSN(o.SQLitePath))
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	// WAL lets readers run beside the one writer; BEGIN IMMEDIATE (in the DSN) makes writers queue on
	// busy_timeout instead of failing when two transactions upgrade to write at once.
	sqlDB.SetMaxOpenConns(8)
	drv := countingDriver{entsql.OpenDB(dialect.SQLite, sqlDB), o.OnStatement}
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: sqlDB, Dialect: dialect.SQLite,
		close: func() { sqlDB.Close() }}, nil
}

// sqliteDSN is the modernc.org/sqlite data source for a database file: foreign keys on, WAL, a busy
// timeout and immediate write transactions.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "synchronous(FULL)") // an acknowledged write survives power loss, not just a crash
	q.Set("_txlock", "immediate")
	// Times as sortable text without Go's monotonic clock suffix, so ORDER BY, cursors and time
	// filters compare them correctly (all times are stored in UTC).
	q.Set("_time_format", "sqlite")
	return "file:" + path + "?" + q.Encode()
}

// Close releases the database.
func (db *DB) Close() {
	db.Client.Close()
	db.close()
}

// IsTimeout reports whether err is a statement cut short by a deadline: the context's, or
// PostgreSQL's cancellation (statement_timeout, or the cancel request a context sends).
func IsTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &pgErr) && pgErr.Code == "57014"
}
