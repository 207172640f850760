package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestHelp: agora --help lists every command, and each command's help (agora help CMD and
// agora CMD --help alike) describes it and names its real flags and arguments.
func TestHelp(t *testing.T) {
	var top bytes.Buffer
	if _, err := parseArgs([]string{"--help"}, &top); !errors.Is(err, errHelpShown) {
		t.Fatalf("--help: %v", err)
	}
	for _, tc := range []struct {
		cmd   string
		flags string   // its flags, as the help lists them
		names []string // arguments, variables and behaviour its help must name
	}{
		{"serve", "-env-file", []string{"PORT", "DATABASE_URL", "REDIS_URL", "AGORA_JWT_SECRET", "AGORA_METRICS_ADDR", "SIGTERM"}},
		{"migrate", "-env-file -pending", []string{"DATABASE_URL", "AGORA_AUTO_MIGRATE"}},
		{"seed", "-env-file", []string{"demo"}},
		{"role", "-env-file", []string{"USERNAME USER|MODERATOR|ADMIN"}},
		{"schema", "-client", []string{"[subgraph]", "federation", "schema/client.graphql"}},
		{"version", "", []string{"VCS revision", "Go version"}},
		{"healthcheck", "-env-file -timeout", []string{"/readyz", "PORT"}},
	} {
		if !strings.Contains(top.String(), "\n  "+tc.cmd+" ") {
			t.Errorf("--help does not list %s:\n%s", tc.cmd, top.String())
		}
		var viaHelp, viaFlag bytes.Buffer
		_, err1 := parseArgs([]string{"help", tc.cmd}, &viaHelp)
		_, err2 := parseArgs([]string{tc.cmd, "--help"}, &viaFlag)
		if !errors.Is(err1, errHelpShown) || !errors.Is(err2, errHelpShown) || viaHelp.String() != viaFlag.String() {
			t.Errorf("%s: help CMD (%v) and CMD --help (%v) differ:\n%s\n---\n%s", tc.cmd, err1, err2, &viaHelp, &viaFlag)
		}
		help := viaHelp.String()
		if !strings.HasPrefix(help, "Usage: agora "+tc.cmd) {
			t.Errorf("%s: help starts %q", tc.cmd, help[:min(40, len(help))])
		}
		for _, name := range tc.names {
			if !strings.Contains(help, name) {
				t.Errorf("%s: help does not name %s:\n%s", tc.cmd, name, help)
			}
		}
		var listed []string
		for _, line := range strings.Split(help, "\n") {
			if f, _, _ := strings.Cut(strings.TrimPrefix(line, "  "), " "); strings.HasPrefix(line, "  -") {
				listed = append(listed, f)
			}
		}
		if strings.Join(listed, " ") != tc.flags {
			t.Errorf("%s: help lists flags %q, want %q", tc.cmd, listed, tc.flags)
		}
		value := map[string]string{"-env-file": "x.env", "-pending": "true", "-timeout": "1s", "-client": "true"}
		for _, f := range listed { // and they are real: each parses
			if _, err := parseArgs([]string{tc.cmd, f + "=" + value[f], "--help"}, &bytes.Buffer{}); !errors.Is(err, errHelpShown) {
				t.Errorf("%s %s: %v", tc.cmd, f, err)
			}
		}
	}
}

// TestVersion: agora version prints the module, its revision and the Go version from the build info.
func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := printVersion(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"agora ", "module: github.com/agora/agora\n", "revision: ", "go: " + runtime.Version()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("want %q in:\n%s", want, out.String())
		}
	}

	// What the linker stamps (-X main.version, -X main.revision) wins over the build info.
	defer func(v, r string) { version, revision = v, r }(version, revision)
	version, revision = "v1.4.0-3-gabc1234", "abc1234def5678abc1234def5678abc1234def56"
	out.Reset()
	if err := printVersion(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "agora v1.4.0-3-gabc1234\nmodule: github.com/agora/agora\nrevision: abc1234def5678abc1234def5678abc1234def56\n") {
		t.Errorf("stamped:\n%s", out.String())
	}
}

// agora runs main with args in a child process, with only the environment given, and returns
// its output and exit code.
func agora(t *testing.T, dir string, env []string, args string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0]) // TestMain runs main
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "AGORA_") && k != "PORT" && k != "DATABASE_URL" && k != "REDIS_URL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AGORA_LOG_LEVEL=error") // env may say otherwise: the last one counts
	cmd.Env = append(cmd.Env, append(env, "AGORA_TEST_MAIN_ARGS="+args)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// TestCommandLine: exit codes and messages of the binary: 0 for help and version, 2 for a command
// line it does not understand, 1 when the command fails; migrate -pending lists what migrate applies,
// with the configuration from -env-file.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args, want string
		code       int
	}{
		{"--help", "Commands:", 0},
		{"help role", "Usage: agora role", 0},
		{"version", "go: go", 0},
		{"frobnicate", `unknown command "frobnicate"`, 2},
		{"--port 1", "unknown flag --port", 2},
		{"serve -nope", "flag provided but not defined: -nope", 2},
		{"role ada", "role: want arguments USERNAME USER|MODERATOR|ADMIN", 2},
		{"schema a b", "schema: want arguments [subgraph]", 2},
		{"version now", "version: want arguments none", 2},
		{"help nope", `help: unknown command "nope"`, 2},
		{"schema bogus", `schema: unknown schema "bogus"`, 2},
		{"schema -client subgraph", "-client and subgraph are two different schemas", 2},
		{"role ada KING", `role: "KING" is not a role: want USER, MODERATOR or ADMIN`, 2},
		{"migrate now", "migrate: want arguments none", 2},
		{"migrate -env-file missing.env", "missing.env", 1},
		{"healthcheck -timeout 1s", "healthcheck:", 1}, // nothing listens on PORT 1
	} {
		// A database that cannot be reached: a bad command line is refused before it is opened.
		stdout, stderr, code := agora(t, dir, []string{"PORT=1", "DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1"}, tc.args)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("agora %s: exit %d, want %d with %q:\n%s%s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
	}

	env := filepath.Join(dir, "prod.env")
	if err := os.WriteFile(env, []byte("AGORA_SQLITE_PATH="+filepath.Join(dir, "agora.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pending, stderr, code := agora(t, dir, nil, "migrate -pending -env-file "+env)
	if code != 0 || !strings.Contains(pending, ".sql") {
		t.Fatalf("migrate -pending: exit %d: %s%s", code, pending, stderr)
	}
	if _, stderr, code := agora(t, dir, nil, "migrate -env-file "+env); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	if after, stderr, code := agora(t, dir, nil, "migrate -pending -env-file "+env); code != 0 || after != "" {
		t.Fatalf("migrate -pending after migrate: exit %d: %q %s", code, after, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "agora.db")); err != nil {
		t.Fatalf("-env-file's AGORA_SQLITE_PATH was not used: %v", err)
	}
}

// TestOneShotCommandsAreQuiet: migrate, seed and role say what they did, and neither the
// configuration nor the JWT warning that serve logs; migrate says when there was nothing to do.
func TestOneShotCommandsAreQuiet(t *testing.T) {
	dir := t.TempDir()
	env := []string{"AGORA_LOG_LEVEL=info", "AGORA_SQLITE_PATH=" + filepath.Join(dir, "agora.db")}
	for _, tc := range []struct {
		args string
		want []string
	}{
		{"migrate", []string{`msg="migration applied" file=`}},
		{"migrate", []string{`msg="database up to date: no migration pending" database=sqlite`}},
		{"seed", []string{`msg="demo data loaded" users=ada,grace,alan,edsger,barbara password=agora-demo-password`}},
		{"seed", []string{`msg="demo data already loaded: nothing to do"`}},
		{"role ada moderator", []string{`msg="role set" user=ada role=MODERATOR`}},
	} {
		stdout, stderr, code := agora(t, dir, env, tc.args)
		out := stdout + stderr
		if code != 0 {
			t.Fatalf("agora %s: exit %d:\n%s", tc.args, code, out)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("agora %s: want %q in:\n%s", tc.args, want, out)
			}
		}
		for _, noise := range []string{"config=", "starting", "AGORA_JWT_SECRET", "up to date"} {
			if strings.Contains(out, noise) && !(noise == "up to date" && tc.args == "migrate") {
				t.Errorf("agora %s says %q:\n%s", tc.args, noise, out)
			}
		}
		if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; tc.args != "migrate" && lines != 1 {
			t.Errorf("agora %s: %d lines, want 1:\n%s", tc.args, lines, out)
		}
	}
	if _, stderr, code := agora(t, dir, env, "role nobody ADMIN"); code != 1 || !strings.Contains(stderr, `no user "nobody"`) {
		t.Errorf("role of a user that does not exist: exit %d: %s", code, stderr)
	}
}

// TestStartUpRefusals: a configuration Agora cannot serve fails at start with a message that says
// what is expected, before anything logs "listening": a port out of range, a port already taken,
// a duration without its unit. Production warns about an embedded SQLite database, /metrics on
// the public port and origin patterns that can never match.
func TestStartUpRefusals(t *testing.T) {
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	db := "AGORA_SQLITE_PATH=" + filepath.Join(dir, "agora.db")
	for _, tc := range []struct {
		env  []string
		want []string
	}{
		{[]string{"PORT=99999"}, []string{`PORT: want a port number from 1 to 65535, got "99999"`}},
		{[]string{"PORT=" + takenPort, db}, []string{"PORT: cannot listen on :" + takenPort, "address already in use"}},
		{[]string{"AGORA_ACCESS_TOKEN_TTL=15"}, []string{`AGORA_ACCESS_TOKEN_TTL: want a duration such as 15m (a number with a unit: ms, s, m or h), got "15"`}},
		{[]string{"PORT=" + takenPort, db, "AGORA_ENV=production", "AGORA_JWT_SECRET=" + strings.Repeat("k", 32), "AGORA_LOG_LEVEL=warn",
			"AGORA_ALLOWED_ORIGINS=https://app.example.com/"},
			[]string{"production on the embedded SQLite file", "production serves /metrics on the public port",
				`\"https://app.example.com/\" can never match a page's origin: an origin has no trailing slash`, "cannot listen"}},
	} {
		stdout, stderr, code := agora(t, dir, tc.env, "serve")
		out := stdout + stderr
		if code != 1 || strings.Contains(out, "listening") {
			t.Errorf("%v: exit %d (want 1, without listening):\n%s", tc.env, code, out)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("%v: want %q in:\n%s", tc.env, want, out)
			}
		}
	}
}
