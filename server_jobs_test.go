package main

import (
	"bufio"
	"database/sql"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	_ "modernc.org/sqlite"

	"github.com/agora/agora/internal/testenv"
)

// TestJobsStopGracefully: on SIGTERM, agora serve (running workers) and agora worker stop taking
// jobs but let the running one finish — a mail held by the SMTP server until the process says it
// is stopping — and exit 0, the job completed and the mail sent once.
func TestJobsStopGracefully(t *testing.T) {
	for _, mode := range []string{"serve", "worker"} {
		t.Run(mode, func(t *testing.T) {
			mx := heldSMTP(t)
			dbPath := filepath.Join(t.TempDir(), "agora.db")
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			l.Close()
			env := []string{"PORT=" + port, "AGORA_SQLITE_PATH=" + dbPath, "SMTP_URL=" + mx.url, "MAIL_FROM=agora@example.com",
				"AGORA_JOBS_STOP_GRACE=2m", "AGORA_LOG_LEVEL=info"}
			if mode == "worker" {
				env = append(env, "AGORA_JOBS_WORKERS=false")
			}
			serve := agoraProcess(t, env, "serve")
			base := "http://127.0.0.1:" + port
			for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
				if res, err := http.Get(base + "/readyz"); err == nil && res.StatusCode == http.StatusOK {
					res.Body.Close()
					break
				}
				if time.Since(start) > time.Minute {
					t.Fatal("agora serve did not become ready")
				}
			}
			stopping := serve // the process running the job
			if mode == "worker" {
				stopping = agoraProcess(t, env, "worker")
			}
			// Registering queues the address confirmation: a mail job.
			c := testenv.GraphQL{URL: base + "/graphql"}
			c.Do(t, `mutation { register(input: {username: "ada", email: "ada@example.com", password: "password-ada"}) { user { id } } }`, nil, nil)
			select {
			case <-mx.arrived:
			case <-time.After(2 * time.Minute):
				t.Fatal("no mail reached the SMTP server in 2m")
			}
			if err := stopping.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			for line := range stopping.logs {
				if strings.Contains(line, "stopping job workers") {
					break
				}
			}
			close(mx.release)
			if err := stopping.cmd.Wait(); err != nil {
				t.Fatalf("agora %s did not exit cleanly after SIGTERM with a job running: %v", mode, err)
			}
			if stopping != serve {
				_ = serve.cmd.Process.Signal(syscall.SIGTERM)
				if err := serve.cmd.Wait(); err != nil {
					t.Fatalf("agora serve: %v", err)
				}
			}
			if n := mx.sent.Load(); n != 1 {
				t.Errorf("%d mails sent, want 1", n)
			}
			db, err := sql.Open("sqlite", dbPath)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var unfinished int
			if err := db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE state NOT IN ('completed', 'scheduled')`).Scan(&unfinished); err != nil {
				t.Fatal(err)
			}
			if unfinished != 0 {
				t.Errorf("%d jobs left unfinished (running, retryable, available…), want 0", unfinished)
			}
		})
	}
}

// process is agora running in a child process, its log lines on logs.
type process struct {
	cmd  *exec.Cmd
	logs chan string
}

// agoraProcess starts the test binary as agora with args and only env's settings.
func agoraProcess(t *testing.T, env []string, args string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0]) // TestMain runs main
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "AGORA_") && !strings.HasPrefix(k, "SMTP_") && !strings.HasPrefix(k, "MAIL_") &&
			k != "PORT" && k != "DATABASE_URL" && k != "REDIS_URL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, append(env, "AGORA_TEST_MAIN_ARGS="+args)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: make(chan string, 1000)}
	go func() {
		defer close(p.logs)
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			select {
			case p.logs <- lines.Text():
			default: // nobody reads this process's logs
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

// heldMX is an SMTP server that holds each message's DATA until release is closed.
type heldMX struct {
	url     string
	arrived chan struct{} // a message is being received
	release chan struct{}
	sent    atomic.Int64
}

func heldSMTP(t *testing.T) *heldMX {
	t.Helper()
	mx := &heldMX{arrived: make(chan struct{}, 10), release: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &heldSession{mx: mx}, nil }))
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Minute, 5*time.Minute
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mx.url = "smtp://" + l.Addr().String() + "?tls=none"
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); _ = l.Close() })
	return mx
}

type heldSession struct{ mx *heldMX }

func (s *heldSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *heldSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *heldSession) Reset()                               {}
func (s *heldSession) Logout() error                        { return nil }
func (s *heldSession) Data(r io.Reader) error {
	if _, err := io.ReadAll(r); err != nil {
		return err
	}
	s.mx.arrived <- struct{}{}
	<-s.mx.release
	s.mx.sent.Add(1)
	return nil
}
