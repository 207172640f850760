package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// StripeMockVersion is the stripe-mock the tests run: Stripe's own server of its API's fixtures,
// built with `go install` into GOBIN (outside Agora's go.mod) the first time a test needs it.
const StripeMockVersion = "v0.203.0"

var (
	stripeMockOnce sync.Once
	stripeMockBin  string
	stripeMockErr  error
)

// StripeMock starts a stripe-mock for this test and returns its API base URL (http://127.0.0.1:PORT).
// It answers every Stripe API call with fixed fixtures; it is stopped at the end of the test.
func StripeMock(t testing.TB) string {
	t.Helper()
	stripeMockOnce.Do(func() { stripeMockBin, stripeMockErr = installStripeMock() })
	if stripeMockErr != nil {
		t.Fatalf("testenv: stripe-mock: %v", stripeMockErr)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(stripeMockBin, "-http-addr", addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start stripe-mock: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() { // drain its log so it never blocks on a full pipe
		sc := bufio.NewScanner(out)
		for sc.Scan() {
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: stripe-mock on %s did not start listening", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr
}

// installStripeMock finds stripe-mock in GOBIN (or GOPATH/bin, or PATH) at StripeMockVersion, or
// installs it there with the go command.
func installStripeMock() (string, error) {
	gobin, err := goEnv("GOBIN")
	if err != nil {
		return "", err
	}
	if gobin == "" {
		gopath, err := goEnv("GOPATH")
		if err != nil {
			return "", err
		}
		gobin = filepath.Join(strings.Split(gopath, string(os.PathListSeparator))[0], "bin")
	}
	bin := filepath.Join(gobin, "stripe-mock")
	if ok, _ := hasVersion(bin); ok {
		return bin, nil
	}
	cmd := exec.Command("go", "install", "github.com/stripe/stripe-mock@"+StripeMockVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install github.com/stripe/stripe-mock@%s: %v\n%s", StripeMockVersion, err, out)
	}
	return bin, nil
}

// hasVersion reports whether bin exists and was built from StripeMockVersion.
func hasVersion(bin string) (bool, error) {
	if _, err := os.Stat(bin); err != nil {
		return false, err
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return false, err
	}
	return strings.Contains(string(out), "github.com/stripe/stripe-mock\t"+StripeMockVersion), nil
}

func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}
