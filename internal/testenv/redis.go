package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RedisURL starts a throwaway redis-server (no persistence) for this test alone and returns its URL.
// A server per test costs a few milliseconds and isolates tests completely.
func RedisURL(t testing.TB) string {
	t.Helper()
	return NewRedisServer(t).URL()
}

// RedisServer is a redis-server that a test owns and may stop and start again on
// the same port, to see how clients ride out an outage. It is stopped at the end of the test.
type RedisServer struct {
	bin  string
	port int
	dir  string // where a durable server keeps its append-only file; "" keeps nothing

	mu  sync.Mutex
	cmd *exec.Cmd // nil while stopped
}

// NewRedisServer starts a redis-server for this test. It starts empty every time.
func NewRedisServer(t testing.TB) *RedisServer { return newRedisServer(t, false) }

// NewDurableRedisServer starts a redis-server that writes every change to an append-only file
// before answering, so it comes back from Stop with its data, as a production Redis with
// persistence does.
func NewDurableRedisServer(t testing.TB) *RedisServer { return newRedisServer(t, true) }

func newRedisServer(t testing.TB, durable bool) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("testenv: redis-server not found: run `make test-deps` (installs redis-server via apt)")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &RedisServer{bin: bin, port: port}
	if durable {
		s.dir = t.TempDir()
	}
	t.Cleanup(func() { s.kill() })
	s.Start(t)
	return s
}

// Addr is the server's host:port.
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's redis:// URL.
func (s *RedisServer) URL() string { return fmt.Sprintf("redis://%s/0", s.Addr()) }

// Start starts the server (again) and waits until it accepts connections.
func (s *RedisServer) Start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		t.Fatal("testenv: redis-server is running already")
	}
	args := []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", ""}
	if s.dir != "" {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always", "--dir", s.dir)
	}
	cmd := exec.Command(s.bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start redis-server: %v", err)
	}
	s.cmd = cmd
	ready := make(chan struct{})
	go func() { // drain its log so it never blocks on a full pipe
		sc := bufio.NewScanner(out)
		for said := false; sc.Scan(); {
			if !said && strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready) // a durable server has loaded its data by then: before, it answers LOADING
				said = true
			}
		}
	}()
	if err := waitListening(s.Addr(), 10*time.Second); err != nil {
		t.Fatalf("testenv: redis-server on %s: %v", s.Addr(), err)
	}
	select {
	case <-ready:
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatalf("testenv: redis-server on %s never said it was ready", s.Addr())
	}
}

// Stop kills the server, as a crash would: its connections drop, and its data is gone unless
// it is durable.
func (s *RedisServer) Stop(t testing.TB) {
	t.Helper()
	if !s.kill() {
		t.Fatal("testenv: redis-server is not running")
	}
}

func (s *RedisServer) kill() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
	return true
}

func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("did not start listening")
}
