package testenv

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// PostgresServer is a PostgreSQL cluster that one test owns and may stop and start again on the
// same port and data directory, to see how Agora rides out a database outage. Unlike the shared
// cluster it commits synchronously (fsync stays off: the machine does not crash, the server
// does), so a write it acknowledged survives Stop. It is removed at the end of the test. It needs
// the machine's PostgreSQL binaries even when AGORA_TEST_POSTGRES_URL is set.
type PostgresServer struct {
	dir, data, pgCtl string
	port             int
}

// NewPostgresServer creates and starts a cluster for this test. It takes a second or two.
func NewPostgresServer(t testing.TB) *PostgresServer {
	t.Helper()
	initdb, err := findInitdb()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	s := &PostgresServer{pgCtl: filepath.Join(filepath.Dir(initdb), "pg_ctl")}
	if s.dir, err = os.MkdirTemp("", fmt.Sprintf("agora-pg-%d-", os.Getpid())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(s.data, "postmaster.pid")); err == nil {
			_ = run(s.dir, s.pgCtl, "stop", "-D", s.data, "-m", "immediate", "-w")
		}
		os.RemoveAll(s.dir)
	})
	if os.Geteuid() == 0 {
		if err := chownToPostgres(s.dir); err != nil {
			t.Fatal(err)
		}
	}
	if s.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	s.data = filepath.Join(s.dir, "data")
	if err := run(s.dir, initdb, "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	s.Start(t)
	return s
}

// URL is the URL of the cluster's postgres database.
func (s *PostgresServer) URL() string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path: "/postgres", RawQuery: "sslmode=disable"}
	return u.String()
}

// Start starts the server (again) and waits until it accepts connections; after a Stop it first
// recovers from its write-ahead log, as after a crash.
func (s *PostgresServer) Start(t testing.TB) {
	t.Helper()
	logFile := filepath.Join(s.dir, "postgres.log")
	opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k '%s' -c fsync=off -c full_page_writes=off -c max_connections=50", s.port, s.data)
	if err := run(s.dir, s.pgCtl, "start", "-D", s.data, "-l", logFile, "-w", "-t", "60", "-o", opts); err != nil {
		t.Fatalf("testenv: %v\nlast lines of %s:\n%s", err, logFile, tail(logFile, 30))
	}
}

// Stop kills the server as a crash would (immediate shutdown): connections drop at once and
// nothing is checkpointed.
func (s *PostgresServer) Stop(t testing.TB) {
	t.Helper()
	if err := run(s.dir, s.pgCtl, "stop", "-D", s.data, "-m", "immediate", "-w"); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}
