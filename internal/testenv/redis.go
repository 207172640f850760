package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	go func() { // drain its log so it never blocks on a full pipe
		sc := bufio.NewScanner(out)
		for sc.Scan() {
		}
	}()
	if err := waitListening(s.Addr(), 10*time.Second); err != nil {
		t.Fatalf("testenv: redis-server on %s: %v", s.Addr(), err)
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

// Pause stops the server without closing anything (SIGSTOP): connections stay open and new ones
// are accepted by the kernel, but nothing is answered — a Redis stalled by a long command, a fork
// or a frozen machine — until Resume.
func (s *RedisServer) Pause(t testing.TB) { t.Helper(); s.signal(t, syscall.SIGSTOP) }

// Resume lets a paused server go on (SIGCONT): it answers what it was sent meanwhile.
func (s *RedisServer) Resume(t testing.TB) { t.Helper(); s.signal(t, syscall.SIGCONT) }

func (s *RedisServer) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatal("testenv: redis-server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("testenv: signal redis-server: %v", err)
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

// waitListening waits until the server at addr answers PING with PONG: listening is not enough,
// as a durable server answers LOADING while it reads its append-only file back.
func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			reply := make([]byte, 64)
			_, err := c.Write([]byte("PING\r\n"))
			n := 0
			if err == nil {
				n, _ = c.Read(reply)
			}
			c.Close()
			if strings.HasPrefix(string(reply[:n]), "+PONG") {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("did not start answering PING")
}

// RedisSentinelURL starts a Redis Sentinel (redis-server --sentinel) that monitors master under
// the name "agora" and returns the URL go-redis reads as a Sentinel set-up:
// redis://127.0.0.1:PORT?master_name=agora. It is stopped at the end of the test.
func RedisSentinelURL(t testing.TB, master *RedisServer) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// Sentinel rewrites its configuration file, so it gets one of its own.
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor agora 127.0.0.1 %d 1\n", port, master.port)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(master.bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: starting redis sentinel: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitListening(addr, 10*time.Second); err != nil {
		t.Fatalf("testenv: redis sentinel: %v", err)
	}
	return "redis://" + addr + "?master_name=agora"
}
