// Package testenv gives tests real external services. PostgreSQL runs as a
// throwaway cluster started from the machine's binaries (no Docker), once per
// test binary, with one fresh database per PostgresURL call.
package testenv

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// EnvPostgresURL names the variable that points tests at an existing server
// (with CREATEDB rights) instead of starting a cluster.
const EnvPostgresURL = "AGORA_TEST_POSTGRES_URL"

// cluster is the lazily started PostgreSQL shared by all tests of the binary.
type cluster struct {
	once    sync.Once
	err     error   // start error, reported by every PostgresURL caller
	managed bool    // set by Main, which is what stops the cluster
	dir     string  // temp dir holding data and log; "" when using EnvPostgresURL
	pgCtl   string  // path of pg_ctl, from the same bin dir as initdb
	baseURL url.URL // server URL; PostgresURL swaps in the database name
	admin   *sql.DB // connection used to create and drop test databases
	seq     atomic.Int64
}

var pg cluster

// Main wraps testing.M: runs the tests, then stops the cluster and removes its
// directory. Use from TestMain.
func Main(m *testing.M) {
	pg.managed = true
	code := m.Run()
	if err := pg.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// PostgresURL returns the URL of a fresh, empty database on a throwaway cluster
// shared by the test binary.
func PostgresURL(t testing.TB) string {
	t.Helper()
	pg.once.Do(func() { pg.err = pg.start() })
	if pg.err != nil {
		t.Fatalf("testenv: %v", pg.err)
	}

	// The pid keeps names unique when several test binaries (go test ./...
	// runs packages in parallel) share one server via EnvPostgresURL.
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), pg.seq.Add(1))
	if _, err := pg.admin.Exec("CREATE DATABASE " + name + " TEMPLATE template0"); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE: tests may leave pooled connections open.
		if _, err := pg.admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})

	u := pg.baseURL
	u.Path = "/" + name
	return u.String()
}

func (c *cluster) start() error {
	if !c.managed {
		// Without Main nobody stops the server, and it outlives the test binary.
		return errors.New("call testenv.Main(m) from TestMain in this package before using PostgresURL")
	}
	if s := os.Getenv(EnvPostgresURL); s != "" {
		u, err := url.Parse(s)
		if err != nil {
			return fmt.Errorf("%s: %v", EnvPostgresURL, err)
		}
		c.baseURL = *u
		return c.connect(s)
	}

	initdb, err := findInitdb()
	if err != nil {
		return err
	}
	c.pgCtl = filepath.Join(filepath.Dir(initdb), "pg_ctl")
	reapStale(c.pgCtl)

	// The pid in the name lets reapStale tell whether the owner is still alive.
	if c.dir, err = os.MkdirTemp("", fmt.Sprintf("agora-pg-%d-", os.Getpid())); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root; the postgres user runs it and
		// must own the directory.
		if err := chownToPostgres(c.dir); err != nil {
			return err
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	data := filepath.Join(c.dir, "data")
	logFile := filepath.Join(c.dir, "postgres.log")

	// --no-sync: durability is pointless for a throwaway cluster and syncing
	// dominates initdb's run time.
	if err := run(c.dir, initdb, "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return err
	}

	// The socket goes in the data dir so parallel clusters never collide on
	// /var/run/postgresql (which may not exist anyway).
	opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k '%s' -c fsync=off -c synchronous_commit=off"+
		" -c full_page_writes=off -c max_connections=200", port, data)
	if err := run(c.dir, c.pgCtl, "start", "-D", data, "-l", logFile, "-w", "-t", "60", "-o", opts); err != nil {
		return fmt.Errorf("%v\nlast lines of %s:\n%s", err, logFile, tail(logFile, 30))
	}

	c.baseURL = url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	return c.connect(c.baseURL.String())
}

func (c *cluster) connect(dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %v", dsn, err)
	}
	c.admin = db
	return nil
}

// stop shuts the cluster down and removes its directory. It is a no-op when no
// test asked for PostgreSQL.
func (c *cluster) stop() error {
	var errs []error
	if c.admin != nil {
		errs = append(errs, c.admin.Close())
	}
	if c.dir != "" {
		// No pid file means the server never came up: nothing to stop.
		data := filepath.Join(c.dir, "data")
		if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
			// immediate: the data is thrown away, so skip the shutdown checkpoint.
			errs = append(errs, run(c.dir, c.pgCtl, "stop", "-D", data, "-m", "immediate", "-w"))
		}
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}

// reapStale stops clusters of test binaries that died before Main could clean
// up (a panicking test, -timeout, Ctrl-C): pg_ctl detaches the server, so it
// would otherwise run forever.
func reapStale(pgCtl string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "agora-pg-*-*"))
	for _, dir := range dirs {
		pid, err := strconv.Atoi(strings.Split(filepath.Base(dir), "-")[2])
		if err != nil || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // not ours, or the owner is still running
		}
		_ = run(dir, pgCtl, "stop", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w")
		os.RemoveAll(dir)
	}
}

// run runs a PostgreSQL tool in dir, as the postgres user when we are root.
func run(dir, name string, args ...string) error {
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir // a cwd the postgres user can enter
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}

// findInitdb looks on PATH, then in Debian's versioned dirs, which are not on
// PATH by default.
func findInitdb() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return "", errors.New("PostgreSQL server binaries not found: run `make test-deps` " +
			"(installs postgresql via apt) or put initdb on PATH")
	}
	// Prefer the newest major version (numeric order: 9.6 < 15).
	version := func(p string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(p))), 64)
		return v
	}
	return slices.MaxFunc(dirs, func(a, b string) int {
		return cmp.Compare(version(a), version(b))
	}), nil
}

func chownToPostgres(dir string) error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres system user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// freePort picks a port no one listens on, below the kernel's ephemeral range
// (ip_local_port_range): a port from that range could become an outgoing
// connection's source port before the server binds it (initdb runs between the
// two), or while a restartable server is down. Another test process could pick
// the same port meanwhile: one chance in about 23,000.
func freePort() (int, error) {
	low := ephemeralStart()
	for range 100 {
		port := 0 // the kernel's choice, if the ephemeral range starts too low to stay below it
		if low > firstPort+1000 {
			port = firstPort + rand.IntN(low-firstPort)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		return port, nil
	}
	return 0, errors.New("testenv: no free port below the ephemeral range")
}

// firstPort is the lowest port freePort picks: above the well-known and most registered ones.
const firstPort = 10000

// ephemeralStart is where the kernel's ephemeral port range begins (Linux's default without /proc).
func ephemeralStart() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		fmt.Sscan(string(b), &low)
	}
	return low
}

// tail returns the last n lines of a file, for start-up error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
