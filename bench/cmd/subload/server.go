package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is an Agora started by -start: embedded SQLite in a temp dir, in-process bus.
type server struct {
	dir, url string
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	stopped  bool
	logLines *[]string // the log's warnings and errors, once read
}

func startServer(ctx context.Context, c config) (*server, error) {
	dir, err := os.MkdirTemp("", "agora-subload-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir}
	bin := c.agoraBin
	if bin == "" {
		root, err := moduleRoot()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		bin = filepath.Join(dir, "agora")
		log.Printf("building Agora from %s", root)
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("go build: %v\n%s", err, out)
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.url = fmt.Sprintf("http://127.0.0.1:%d/graphql", port)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)

	logFile, err := os.Create(filepath.Join(dir, "agora.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	s.cmd = exec.Command(bin)
	s.cmd.Dir = dir // so that no .env applies
	s.cmd.Env = append(inheritedEnv(),
		"PORT="+strconv.Itoa(port),
		"AGORA_ENV=development",
		"AGORA_SQLITE_PATH="+filepath.Join(dir, "agora.db"),
		"AGORA_JWT_SECRET="+hex.EncodeToString(secret),
		"AGORA_LOG_LEVEL=warn", // an info line per request otherwise
		// Every socket comes from this one address: the request budget would refuse most.
		"AGORA_RATE_LIMIT_IP=100000000/1m",
	)
	s.cmd.Env = append(s.cmd.Env, c.serverEnv...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.exited = make(chan struct{})
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	log.Printf("started Agora (pid %d) on %s, log in %s", s.cmd.Process.Pid, s.url, logFile.Name())

	ready := strings.TrimSuffix(s.url, "/graphql") + "/readyz"
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-s.exited:
			out, _ := os.ReadFile(logFile.Name())
			s.stop(false)
			return nil, fmt.Errorf("agora exited at start-up: %v\n%s", s.waitErr, out)
		case <-ctx.Done():
			s.stop(false)
			return nil, ctx.Err()
		default:
		}
		if res, err := (&http.Client{Timeout: 2 * time.Second}).Get(ready); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.stop(false)
	return nil, fmt.Errorf("agora not ready after 60s")
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop ends the server (SIGTERM, then SIGKILL after 20 s) and removes its temp dir unless keep.
// It may be called more than once.
func (s *server) stop(keep bool) {
	if s.stopped {
		return
	}
	s.stopped = true
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			log.Printf("agora did not stop within 20s of SIGTERM: killing it")
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if keep {
		log.Printf("kept %s", s.dir)
		return
	}
	s.problems() // read before the log goes
	os.RemoveAll(s.dir)
}

// exitStatus describes how the server ended.
func (s *server) exitStatus() string {
	if s.waitErr == nil {
		return "exited cleanly after SIGTERM"
	}
	return s.waitErr.Error()
}

// problems returns the server log's lines above info (it runs at warn), read once.
func (s *server) problems() []string {
	if s.logLines != nil {
		return *s.logLines
	}
	var lines []string
	f, err := os.Open(filepath.Join(s.dir, "agora.log"))
	if err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "level=INFO") {
				continue
			}
			lines = append(lines, sc.Text())
		}
		f.Close()
	}
	s.logLines = &lines
	return lines
}

// inheritedEnv is our environment without Agora's settings, so that only the ones set here apply.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGORA_") && !strings.HasPrefix(kv, "DATABASE_URL=") &&
			!strings.HasPrefix(kv, "REDIS_URL=") && !strings.HasPrefix(kv, "PORT=") {
			env = append(env, kv)
		}
	}
	return env
}

// moduleRoot is the directory of the main module around the current directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside Agora's module: run from the repository or pass -agora")
	}
	return filepath.Dir(gomod), nil
}

// metrics reads the server's /metrics (Go runtime and process collectors) and, given its PID,
// its VmRSS.
type metrics struct {
	url string
	pid int
}

func newMetrics(graphqlURL string, pid int) *metrics {
	return &metrics{url: strings.TrimSuffix(graphqlURL, "/graphql") + "/metrics", pid: pid}
}

// read returns the unlabelled samples of /metrics, plus "rss" (VmRSS when the PID is known,
// process_resident_memory_bytes otherwise). A failure gives an empty map.
func (m *metrics) read() map[string]float64 {
	v := map[string]float64{}
	client := http.Client{Timeout: 10 * time.Second}
	if res, err := client.Get(m.url); err == nil {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
				continue
			}
			if name, val, ok := strings.Cut(line, " "); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					v[name] = f
				}
			}
		}
		res.Body.Close()
	}
	v["rss"] = v["process_resident_memory_bytes"]
	if m.pid != 0 {
		if rss := vmRSS(m.pid); rss > 0 {
			v["rss"] = rss
		}
	}
	return v
}

// vmRSS is a process's resident memory in bytes, from /proc; 0 when unknown.
func vmRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024
		}
	}
	return 0
}
