package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agora/agora/internal/testenv"
)

// TestRun starts Agora the way `go run .` does — configuration from the environment, no database
// or Redis set up — signs up and in over HTTP, then stops it as SIGTERM would: it stops accepting
// connections, answers the request in flight, ends the subscriptions and returns nil (exit 0).
func TestRun(t *testing.T) {
	port, done, stop := startRun(t, "")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := run(t.Context(), []string{"healthcheck"}); err != nil {
		t.Fatalf("healthcheck of a ready server: %v", err)
	}
	c := testenv.GraphQL{URL: base + "/graphql"}
	c.Do(t, `mutation($in: RegisterInput!) { register(input: $in) { user { id } } }`, map[string]any{"in": map[string]any{"username": "ada", "email": "ada@example.com", "password": "password-ada"}}, nil)
	var out struct{ Login struct{ AccessToken string } }
	c.Do(t, `mutation { login(input: {usernameOrEmail: "ada", password: "password-ada"}) { accessToken } }`, nil, &out)
	var me struct{ Viewer struct{ Username string } }
	c.As(out.Login.AccessToken).Do(t, `{ viewer { username } }`, nil, &me)
	if me.Viewer.Username != "ada" {
		t.Fatalf("viewer: %+v", me)
	}

	// Open subscriptions end with the server instead of holding its shutdown up.
	var streams []*testenv.Stream
	for _, tr := range testenv.Transports {
		streams = append(streams, c.As(out.Login.AccessToken).Subscribe(t, tr, `subscription { notificationAdded { kind } }`, nil))
	}
	// A request in flight when the signal comes: the handler runs (it asked for the body with
	// 100 Continue) and waits for the body.
	body := `{"query":"{ users(first: 1) { totalCount } }"}`
	inflight, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer inflight.Close()
	fmt.Fprintf(inflight, "POST /graphql HTTP/1.1\r\nHost: agora\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	answers := bufio.NewReader(inflight)
	if res, err := http.ReadResponse(answers, nil); err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v %v", res, err)
	}

	stop()
	// Once Agora stops accepting connections, the request in flight still gets its answer.
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			break
		}
		c.Close()
		if time.Since(start) > 10*time.Second {
			t.Fatal("agora still accepts connections after SIGTERM")
		}
	}
	if _, err := io.WriteString(inflight, body); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(answers, nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	answer, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"totalCount":1`) {
		t.Fatalf("the request in flight: %d %s", res.StatusCode, answer)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown", err)
		}
	case <-time.After(12 * time.Second): // shorter than the shutdown grace period: a guard, not a speed check
		t.Fatal("agora did not shut down")
	}
	if err := run(context.Background(), []string{"healthcheck"}); err == nil {
		t.Fatal("healthcheck passed with the server stopped")
	}
	for i, s := range streams {
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s subscription outlived the server", testenv.Transports[i])
		}
	}
}

// startRun runs Agora as `go run .` does, on SQLite, with REDIS_URL set to redisURL, and returns
// once it is ready: its port, what run returns, and the SIGTERM.
func startRun(t *testing.T, redisURL string) (port int, done chan error, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	for k, v := range map[string]string{
		"PORT": strconv.Itoa(port), "AGORA_SQLITE_PATH": filepath.Join(t.TempDir(), "agora.db"),
		"DATABASE_URL": "", "REDIS_URL": redisURL, "AGORA_JWT_SECRET": "", "AGORA_ENV": "", "AGORA_LOG_LEVEL": "error",
	} {
		t.Setenv(k, v)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	done = make(chan error, 1)
	go func() { done <- run(ctx, nil) }()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/readyz"); err == nil && res.StatusCode == http.StatusOK {
			res.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("agora stopped: %v", err)
		default:
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("agora did not become ready")
		}
	}
	return port, done, stop
}

// TestRunRedisDown: Agora starts although Redis does not answer, serves sign-ups and sign-ins
// from in-process state, and uses Redis once it is up.
func TestRunRedisDown(t *testing.T) {
	rs := testenv.NewRedisServer(t)
	rs.Stop(t)
	port, done, stop := startRun(t, rs.URL())
	c := testenv.GraphQL{URL: "http://127.0.0.1:" + strconv.Itoa(port) + "/graphql"}
	c.Do(t, `mutation($in: RegisterInput!) { register(input: $in) { user { id } } }`, map[string]any{"in": map[string]any{"username": "ada", "email": "ada@example.com", "password": "password-ada"}}, nil)
	login := `mutation { login(input: {usernameOrEmail: "ada", password: "password-ada"}) { accessToken } }`
	c.Do(t, login, nil, nil)

	rs.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		c.Do(t, login, nil, nil)
		// The request budget of the address (a successful sign-in leaves no sign-in budget behind).
		if n, err := rdb.Exists(t.Context(), "agora:ratelimit:request:ip:127.0.0.1").Result(); err == nil && n == 1 {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("agora does not use Redis after it came up")
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v after shutdown", err)
	}
}

// TestRunRedisSentinel: with a Sentinel URL, Agora finds the master through the sentinel and
// keeps its shared state there.
func TestRunRedisSentinel(t *testing.T) {
	master := testenv.NewRedisServer(t)
	port, done, stop := startRun(t, testenv.RedisSentinelURL(t, master))
	c := testenv.GraphQL{URL: "http://127.0.0.1:" + strconv.Itoa(port) + "/graphql"}
	c.Do(t, `mutation($in: RegisterInput!) { register(input: $in) { user { id } } }`, map[string]any{"in": map[string]any{"username": "ada", "email": "ada@example.com", "password": "password-ada"}}, nil)
	rdb := redis.NewClient(&redis.Options{Addr: master.Addr()})
	defer rdb.Close()
	// A request budget's key lives only until the budget is full again (a tenth of a second at
	// the default 600/1m): look right after a request, and again after another if it expired.
	for try := 0; ; try++ {
		c.Do(t, `mutation { login(input: {usernameOrEmail: "ada", password: "password-ada"}) { accessToken } }`, nil, nil)
		n, err := rdb.Exists(t.Context(), "agora:ratelimit:request:ip:127.0.0.1").Result()
		if err == nil && n == 1 {
			break
		}
		if try == 20 {
			t.Fatalf("the request budget is not on the master the sentinel names: %d %v", n, err)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v after shutdown", err)
	}
}

// TestMetricsAddr: with AGORA_METRICS_ADDR set, /metrics and /debug/pprof/ are served there and not
// on the public port; the heap profile only with AGORA_HEAP_PROFILE, and a hint without it.
func TestMetricsAddr(t *testing.T) {
	for _, heap := range []bool{false, true} {
		t.Run("AGORA_HEAP_PROFILE="+strconv.FormatBool(heap), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			t.Setenv("AGORA_METRICS_ADDR", addr)
			t.Setenv("AGORA_HEAP_PROFILE", strconv.FormatBool(heap))
			port, done, stop := startRun(t, "")
			defer sampleHeap(true) // as the test process started, for the tests after this one
			public := "http://127.0.0.1:" + strconv.Itoa(port)
			res, err := http.Get(public + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("/metrics on the public port: %s", res.Status)
			}
			if s := testenv.Scrape(t, "http://"+addr+"/metrics"); s["agora_db_pool_max_connections"] < 1 {
				t.Errorf("/metrics on AGORA_METRICS_ADDR: %v", s)
			}
			if on := runtime.MemProfileRate > 0; on != heap {
				t.Errorf("allocations sampled: %t", on)
			}
			// Go's profiles for the operator there too, never on the public port.
			heapWant, heapSays := http.StatusNotFound, "AGORA_HEAP_PROFILE=true"
			if heap {
				heapWant, heapSays = http.StatusOK, "heap profile"
			}
			for _, c := range []struct {
				url, says string
				want      int
			}{
				{"http://" + addr + "/debug/pprof/heap?debug=1", heapSays, heapWant},
				{"http://" + addr + "/debug/pprof/allocs?debug=1", heapSays, heapWant},
				{"http://" + addr + "/debug/pprof/goroutine?debug=1", "goroutine profile", http.StatusOK},
				{public + "/debug/pprof/heap?debug=1", "", http.StatusNotFound},
			} {
				res, err := http.Get(c.url)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != c.want || !strings.Contains(string(body), c.says) {
					t.Errorf("%s: %s %.80q, want %d with %q", c.url, res.Status, body, c.want, c.says)
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
