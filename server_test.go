package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/agora/agora/internal/testenv"
)

// TestRun starts Agora the way `go run .` does — configuration from the environment, no database
// or Redis set up — signs up and in over HTTP, then stops it as SIGTERM would.
func TestRun(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for k, v := range map[string]string{
		"PORT": strconv.Itoa(port), "AGORA_SQLITE_PATH": filepath.Join(t.TempDir(), "agora.db"),
		"DATABASE_URL": "", "REDIS_URL": "", "AGORA_JWT_SECRET": "", "AGORA_ENV": "", "AGORA_LOG_LEVEL": "error",
	} {
		t.Setenv(k, v)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil) }()

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get(base + "/readyz"); err == nil && res.StatusCode == http.StatusOK {
			res.Body.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("agora did not become ready")
		}
	}
	c := testenv.GraphQL{URL: base + "/graphql"}
	c.Do(t, registerMutation, map[string]any{"in": map[string]any{"username": "ada", "email": "ada@example.com", "password": "password-ada"}}, nil)
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
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown", err)
		}
	case <-time.After(12 * time.Second): // shorter than the shutdown grace period: a guard, not a speed check
		t.Fatal("agora did not shut down")
	}
	for i, s := range streams {
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s subscription outlived the server", testenv.Transports[i])
		}
	}
}
