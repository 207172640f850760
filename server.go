// Agora is the GraphQL backend of a community publishing app.
//
//	agora [serve]          serve the API (the default)
//	agora worker           run background jobs (notifications, mail, clean-up) without serving
//	agora migrate          apply pending database migrations and exit (-pending: list them)
//	agora seed             load the demo data set and exit
//	agora role NAME ROLE   give user NAME the role USER, MODERATOR or ADMIN (e.g. the first admin)
//	agora schema [-client] [subgraph]  print the public schema, the client tools' schema, or the subgraph SDL
//	agora version          print the module version, VCS revision and Go version
//	agora healthcheck      exit 0 when the Agora on this machine's PORT is ready (container health checks)
//
// agora --help and agora help COMMAND describe each (cli.go).
package main

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go tool gqlgen generate
//go:generate go run ./graph/execpatch.go
//go:generate sh -c "go run . schema > schema.graphql && go run . schema -client > schema/client.graphql"

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/agora/agora/graph/generated"
	"github.com/agora/agora/graph/server"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/seed"
	"github.com/agora/agora/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	var usage usageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "agora:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "agora:", err)
		os.Exit(1)
	}
}

// heapSampleRate is the runtime's allocation sampling rate as the process started (512 kB, or what
// GODEBUG=memprofilerate says).
var heapSampleRate = runtime.MemProfileRate

// sampleHeap turns the runtime's allocation sampling on or off (AGORA_HEAP_PROFILE). Sampling keeps a
// table of the sampled allocations' stacks, about 2 MiB resident under load, and unwinds a stack per
// sample: worth it while an operator reads heap profiles, not by default.
func sampleHeap(on bool) {
	rate := 0
	if on {
		rate = heapSampleRate
	}
	runtime.MemProfileRate = rate
}

func run(ctx context.Context, args []string) error {
	inv, err := parseArgs(args, os.Stdout)
	if err != nil {
		return err
	}
	cmd := inv.cmd
	switch cmd { // these need no configuration, database or network
	case "schema":
		return printSchema(os.Stdout, inv)
	case "version":
		return printVersion(os.Stdout)
	}
	cfg, err := loadConfig(inv.envFile)
	if err != nil {
		return err
	}
	sampleHeap(cfg.HTTP.HeapProfile)
	if cmd == "healthcheck" {
		return healthcheck(ctx, cfg.HTTP.Addr, inv.timeout)
	}
	log := newLogger(cfg)
	routeLibraryLogs(log)
	// One-shot commands (migrate, seed, role) say what they did and nothing else; the server
	// logs its configuration and what about it deserves a warning.
	serving := cmd == "serve" || cmd == "worker"
	switch cmd {
	case "worker":
		cfg.Jobs.Workers = true
	case "serve":
	default: // one-shot commands insert jobs (seed's notifications) and leave them to the workers
		cfg.Jobs.Workers = false
	}
	if serving {
		b := readBuildInfo()
		log.Info("starting", "version", b.version, "revision", b.revision, "config", cfg.String())
		if on := cfg.Exposed(); len(on) > 0 {
			log.Warn("production with the schema exposed, as configured", "settings", on)
		}
		for _, w := range cfg.Warnings() {
			log.Warn(w)
		}
	}

	db, err := database.Open(ctx, database.Options{PostgresURL: cfg.Database.URL, SQLitePath: cfg.Database.SQLitePath,
		MaxConns: cfg.Database.MaxConnections, StatementTimeout: cfg.Database.StatementTimeout})
	if err != nil {
		return err
	}
	defer db.Close()

	if cmd == "migrate" {
		if inv.pending {
			return listPending(ctx, os.Stdout, db)
		}
		return migrate(ctx, log, db, true)
	}
	if cfg.Database.AutoMigrate {
		if err := migrate(ctx, log, db, false); err != nil {
			return err
		}
	} else if pending, err := db.Pending(ctx); err != nil {
		return err
	} else if len(pending) > 0 {
		return fmt.Errorf("%d migrations pending and AGORA_AUTO_MIGRATE=false: run `agora migrate`", len(pending))
	}

	if cmd == "serve" {
		// The whole pool, opened before the listener: the first burst after a deploy would
		// otherwise wait for connections to open (docs/deployment.md).
		if err := db.Warm(ctx, cfg.Database.MaxConnections); err != nil {
			log.Warn("opening the pool's first connections", "err", err)
		}
	}
	if cfg.Auth.JWTSecret == "" { // development only: production refuses to start without one
		cfg.Auth.JWTSecret = hex.EncodeToString(randomBytes(32))
		if cmd == "serve" { // one-shot commands and workers issue no tokens
			log.Warn("AGORA_JWT_SECRET is not set: using a random secret, so access tokens stop working at restart")
		}
	}
	var rdb redis.UniversalClient // a nil interface, not a nil *redis.Client, when unset
	if cfg.Redis.URL != "" {
		client, err := cache.OpenRedis(ctx, log, cfg.Redis.URL)
		if err != nil {
			return err
		}
		defer client.Close()
		rdb = client
	}
	tracing, stopTracing, err := telemetry.NewTracerProvider(ctx)
	if err != nil {
		return fmt.Errorf("OpenTelemetry (OTEL_* variables): %w", err)
	}
	if telemetry.Tracing(tracing) {
		log.Info("exporting traces over OTLP/HTTP (OTEL_EXPORTER_OTLP_* variables)")
	}
	defer func() { // flush the spans still buffered
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(ctx); err != nil {
			log.Warn("exporting the last spans failed", "err", err)
		}
	}()
	a, err := server.New(cfg, log, db, rdb, tracing)
	if err != nil {
		return err
	}
	defer a.Close()
	if cmd == "role" {
		if err := a.Accounts.SetRoleByUsername(ctx, inv.args[0], inv.args[1]); err != nil {
			return err
		}
		log.Info("role set", "user", inv.args[0], "role", strings.ToUpper(inv.args[1]))
		return nil
	}
	if cmd == "seed" {
		present, err := seed.Present(ctx, db.Client)
		if err != nil {
			return err
		}
		if err := seed.Load(ctx, db.Client, a.Accounts, a.Publish, a.Social); err != nil {
			return err
		}
		msg := "demo data loaded"
		if present {
			msg = "demo data already loaded: nothing to do"
		}
		log.Info(msg, "users", strings.Join(seed.Usernames(), ","), "password", seed.Password)
		return nil
	}

	// The workers' context outlives ctx (SIGTERM), so that StopJobs stops them gracefully.
	jobsCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	if err := a.StartJobs(jobsCtx); err != nil {
		return err
	}
	stopJobs := func() error {
		log.Info("stopping job workers", "grace", cfg.Jobs.StopGrace)
		stopCtx, cancel := context.WithTimeout(context.Background(), cfg.Jobs.StopGrace+5*time.Second)
		defer cancel()
		if err := a.StopJobs(stopCtx); err != nil {
			return fmt.Errorf("jobs still running after AGORA_JOBS_STOP_GRACE (%s) were left to be retried: %w", cfg.Jobs.StopGrace, err)
		}
		return nil
	}
	if cmd == "worker" {
		log.Info("working", "concurrency", cfg.Jobs.Concurrency, "kinds", strings.Join(a.Queue.Kinds(), ","))
		<-ctx.Done()
		log.Info("shutting down")
		if err := stopJobs(); err != nil {
			return err
		}
		log.Info("stopped")
		return nil
	}

	srv := server.NewHTTPServer(cfg.HTTP, a.Handler())
	// Listen first: a port that is taken or not ours fails here, before "listening" is logged.
	listener, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("PORT: cannot listen on %s: %w", cfg.HTTP.Addr, err)
	}
	errc := make(chan error, 2)
	if cfg.HTTP.MetricsAddr != "" {
		l, err := net.Listen("tcp", cfg.HTTP.MetricsAddr)
		if err != nil {
			listener.Close()
			return fmt.Errorf("AGORA_METRICS_ADDR: %w", err)
		}
		metrics := &http.Server{Handler: a.MetricsHandler(), ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout}
		go func() { errc <- fmt.Errorf("AGORA_METRICS_ADDR: %w", metrics.Serve(l)) }()
		defer metrics.Close()
		log.Info("serving metrics", "addr", cfg.HTTP.MetricsAddr)
	}
	// The public port serves last: once /readyz answers, the metrics port does too.
	go func() { errc <- srv.Serve(listener) }()
	if cfg.GraphQL.GraphiQL {
		log.Info("listening", "addr", cfg.HTTP.Addr, "graphiql", "http://localhost"+cfg.HTTP.Addr+"/")
	} else {
		log.Info("listening", "addr", cfg.HTTP.Addr)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.HTTP.ShutdownGrace)
	a.Close() // end the subscriptions first: open event streams would hold the shutdown up
	// Shutdown stops listening at once, closes idle connections and waits for the requests in
	// flight; those still running after the grace period are cut off.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = srv.Close()
		return fmt.Errorf("requests still running after AGORA_SHUTDOWN_GRACE (%s) were cut off: %w", cfg.HTTP.ShutdownGrace, err)
	}
	if err := stopJobs(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// loadConfig reads the configuration, with the variables of envFile ("" : ./.env if there is one).
func loadConfig(envFile string) (config.Config, error) {
	if envFile == "" {
		return config.Load()
	}
	return config.LoadFile(envFile)
}

// listPending prints the migrations the database lacks, one file name a line.
func listPending(ctx context.Context, w io.Writer, db *database.DB) error {
	pending, err := db.Pending(ctx)
	if err != nil {
		return err
	}
	for _, m := range pending {
		fmt.Fprintln(w, m.Name)
	}
	return nil
}

// healthcheck asks the Agora serving on this machine at addr whether it is ready (GET /readyz),
// for container health checks: images without a shell or curl run the binary itself.
func healthcheck(ctx context.Context, addr string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1"+addr+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /readyz answered %s", res.Status)
	}
	return nil
}

// printSchema writes the public schema as the server has it (schema.graphql), with -client the
// schema client tools read (schema/client.graphql), or with "subgraph" the SDL Agora gives a
// federation router (_service.sdl). parseArgs has checked the combination.
func printSchema(w io.Writer, inv invocation) error {
	switch {
	case inv.client:
		_, err := io.WriteString(w, server.ClientSDL())
		return err
	case len(inv.args) == 1:
		sdl, err := server.SubgraphSDL()
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, sdl)
		return err
	}
	formatter.NewFormatter(w, formatter.WithIndent("  ")).FormatSchema(generated.NewExecutableSchema(generated.Config{}).Schema())
	return nil
}

// routeLibraryLogs sends the messages of libraries that log through a process-wide logger to log.
// It is the one process-global Agora sets, and the command sets it, once, before building anything:
// constructors (server.New) and tests set none.
//
// go-redis has no logger per client: redis.Options has no such field (v9.23), and every client logs
// through the package's logger, which only redis.SetLogger replaces. Left alone, it writes one
// unstructured stderr line per failed dial while Redis is down, outside the JSON log of production.
// Here those lines go to the debug log instead: the rate limiter, which every request passes, logs
// an outage once at warning level.
func routeLibraryLogs(log *slog.Logger) {
	redis.SetLogger(redisLogger{log})
}

// redisLogger is go-redis's logger writing to Agora's log at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// migrate applies the pending migrations and logs each; with upToDate, it says so too when there
// was none (agora migrate).
func migrate(ctx context.Context, log *slog.Logger, db *database.DB, upToDate bool) error {
	applied, err := db.Migrate(ctx)
	for _, name := range applied {
		log.Info("migration applied", "file", name)
	}
	if err == nil && len(applied) == 0 && upToDate {
		log.Info("database up to date: no migration pending", "database", dialectName(db))
	}
	return err
}

func dialectName(db *database.DB) string {
	if db.Dialect == "postgres" {
		return "postgresql"
	}
	return "sqlite"
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
