package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// invocation is a parsed command line.
type invocation struct {
	cmd     string
	args    []string      // positional arguments
	envFile string        // -env-file: "" reads .env when there is one
	pending bool          // migrate -pending
	client  bool          // schema -client
	timeout time.Duration // healthcheck -timeout
}

// usageError is a command line Agora does not understand: main exits 2 on it.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errHelpShown: help was asked for and printed; main exits 0.
var errHelpShown = errors.New("help shown")

// command describes one subcommand for its help and parses its flags.
type command struct {
	name, args, summary string
	help                string // what it does, and the environment variables that matter
	flags               func(fs *flag.FlagSet, inv *invocation)
	nargs               func(n int) bool // whether n positional arguments are right
	// check, when set, says what is wrong with the arguments and flags (nargs is right), so that
	// every command line Agora cannot run is refused before it opens anything.
	check func(inv invocation) error
}

const configHelp = `Configuration comes from the environment and an optional .env file in the working
directory (variables already set win); README.md#configuration lists every variable and
.env.example shows each with its default.`

func envFileFlag(fs *flag.FlagSet, inv *invocation) {
	fs.StringVar(&inv.envFile, "env-file", "", "read variables from this file instead of ./.env (it must exist; the environment still wins)")
}

// commands is the fixed table of subcommands (read only).
var commands = []command{
	{
		name: "serve", summary: "serve the API (the default command)",
		help: `Serves GraphQL at /graphql (POST, GET, WebSocket, server-sent events), GraphiQL at /
when enabled, /healthz, /readyz and /metrics (or /metrics on AGORA_METRICS_ADDR alone). Applies
pending migrations first unless AGORA_AUTO_MIGRATE=false (then it refuses to start while any are
pending). Runs the job workers too unless AGORA_JOBS_WORKERS=false (see agora worker). Stops on
SIGINT or SIGTERM: ends the subscriptions, lets requests in flight finish for AGORA_SHUTDOWN_GRACE,
then running jobs for AGORA_JOBS_STOP_GRACE, and exits 0.

Variables that matter most: PORT (8080), AGORA_ENV (development; production logs JSON and refuses
insecure settings), DATABASE_URL (empty: embedded SQLite at AGORA_SQLITE_PATH), REDIS_URL (empty:
rate limits, cache and pub/sub in this process), AGORA_JWT_SECRET (required in production),
AGORA_METRICS_ADDR, AGORA_LOG_LEVEL.`,
		flags: envFileFlag,
	},
	{
		name: "worker", summary: "run background jobs (notifications, mail, clean-up) without serving",
		help: `Runs the durable job queue's workers and periodic jobs, and serves nothing. Jobs live in the
database: agora serve inserts them with the writes that cause them and runs workers too unless
AGORA_JOBS_WORKERS=false; run any number of agora worker processes beside it (one database). Applies
pending migrations first unless AGORA_AUTO_MIGRATE=false. Stops on SIGINT or SIGTERM: takes no new
job, lets running ones finish for AGORA_JOBS_STOP_GRACE, then cancels them (a cancelled job is
retried), and exits 0.

Variables: DATABASE_URL, AGORA_SQLITE_PATH, REDIS_URL (live events reach the servers' subscribers
through it), AGORA_JOBS_CONCURRENCY, AGORA_JOBS_TIMEOUT, AGORA_JOBS_RESCUE_AFTER,
AGORA_JOBS_STOP_GRACE, SMTP_URL, MAIL_FROM, AGORA_BASE_URL.`,
		flags: envFileFlag,
	},
	{
		name: "migrate", summary: "apply pending database migrations and exit",
		help: `Applies the versioned migrations the database lacks, in order, and logs each one. Replicas
migrating one PostgreSQL database at once take turns (an advisory lock). Use it before starting
replicas with AGORA_AUTO_MIGRATE=false.

Variables: DATABASE_URL (empty: the SQLite file AGORA_SQLITE_PATH), AGORA_STATEMENT_TIMEOUT.`,
		flags: func(fs *flag.FlagSet, inv *invocation) {
			envFileFlag(fs, inv)
			fs.BoolVar(&inv.pending, "pending", false, "list the pending migrations and exit without applying them")
		},
	},
	{
		name: "seed", summary: "load the demo data set and exit",
		help: `Loads demo users, posts, tags, comments, likes and follows into the configured database
(migrating it first unless AGORA_AUTO_MIGRATE=false) and logs the demo users' password. Meant for
development databases.

Variables: DATABASE_URL, AGORA_SQLITE_PATH, REDIS_URL (cached counts are invalidated there).`,
		flags: envFileFlag,
	},
	{
		name: "role", args: "USERNAME USER|MODERATOR|ADMIN", summary: "set a user's role (e.g. make the first admin) and exit",
		help: `Gives the user named USERNAME the role USER, MODERATOR or ADMIN (case does not matter). The
user's open sessions see the new role at their next token refresh; their sockets are closed at
the next AGORA_SOCKET_RECHECK.

Variables: DATABASE_URL, AGORA_SQLITE_PATH, REDIS_URL.`,
		flags: envFileFlag,
		nargs: func(n int) bool { return n == 2 },
		check: func(inv invocation) error {
			switch strings.ToUpper(inv.args[1]) {
			case "USER", "MODERATOR", "ADMIN":
				return nil
			}
			return fmt.Errorf("%q is not a role: want USER, MODERATOR or ADMIN", inv.args[1])
		},
	},
	{
		name: "schema", args: "[subgraph]", summary: "print the GraphQL schema and exit",
		help: `Prints the public schema (SDL) as the server has it, with its federation, authorization and
gqlgen directives; with -client, the schema client tools read (Relay, graphql-js, GraphQL Code
Generator, Apollo's codegen: the same types and fields without those directives and without
_entities and _service), committed as schema/client.graphql; with "subgraph", the SDL Agora gives
a federation router (_service.sdl). Needs no configuration, database or network.`,
		flags: func(fs *flag.FlagSet, inv *invocation) {
			fs.BoolVar(&inv.client, "client", false, "print the client schema (schema/client.graphql): no federation or gqlgen directives, no _entities or _service")
		},
		nargs: func(n int) bool { return n <= 1 },
		check: func(inv invocation) error {
			switch {
			case len(inv.args) == 1 && inv.args[0] != "subgraph":
				return fmt.Errorf("unknown schema %q: want subgraph, -client or nothing", inv.args[0])
			case len(inv.args) == 1 && inv.client:
				return errors.New("-client and subgraph are two different schemas: ask for one")
			}
			return nil
		},
	},
	{
		name: "version", summary: "print the version, VCS revision and Go version and exit",
		help: `Prints the version and the VCS revision the binary was built from — stamped by the linker
in release builds (make build, make static and the Dockerfile pass -X main.version and
-X main.revision; docker build takes --build-arg VERSION=… --build-arg REVISION=…), else as the
Go toolchain recorded them (go build in a git checkout does) — with the revision's time when
recorded, and the Go version.`,
	},
	{
		name: "healthcheck", summary: "exit 0 when the Agora on this machine is ready",
		help: `Asks the Agora listening on 127.0.0.1 at PORT for /readyz (database reachable) and exits 0
when it answers 200, 1 otherwise. For container health checks: images without a shell or curl
run the binary itself.

Variables: PORT.`,
		flags: func(fs *flag.FlagSet, inv *invocation) {
			envFileFlag(fs, inv)
			fs.DurationVar(&inv.timeout, "timeout", 3*time.Second, "how long to wait for the answer")
		},
	},
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// printUsage is `agora --help`.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "Agora is the GraphQL backend of a community publishing app.\n\nUsage:\n  agora [COMMAND] [FLAGS] [ARGS]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-12s %s\n", "help", "describe a command: agora help COMMAND (or agora COMMAND --help)")
	fmt.Fprint(w, "\nWithout a command, agora serves.\n\n"+configHelp+"\n")
}

// flagSet is c's flags, with c's help as its usage.
func (c *command) flagSet(inv *invocation, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("agora "+c.name, flag.ContinueOnError)
	fs.SetOutput(out)
	if c.flags != nil {
		c.flags(fs, inv)
	}
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: agora %s", c.name)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, " [FLAGS]")
		}
		if c.args != "" {
			fmt.Fprint(w, " "+c.args)
		}
		fmt.Fprintf(w, "\n\n%s: %s.\n\n%s\n", c.name, c.summary, c.help)
		if hasFlags {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
		if c.flags != nil {
			fmt.Fprint(w, "\n"+configHelp+"\n")
		}
	}
	return fs
}

// parseArgs reads the command line. Help goes to stdout (errHelpShown); a command line Agora
// does not understand is a usageError.
func parseArgs(args []string, stdout io.Writer) (invocation, error) {
	if len(args) == 0 {
		return invocation{cmd: "serve"}, nil
	}
	switch args[0] {
	case "-h", "-help", "--help":
		printUsage(stdout)
		return invocation{}, errHelpShown
	case "help":
		if len(args) == 1 {
			printUsage(stdout)
			return invocation{}, errHelpShown
		}
		c := findCommand(args[1])
		if c == nil || len(args) > 2 {
			return invocation{}, usageError{fmt.Sprintf("help: unknown command %q (commands: %s)", strings.Join(args[1:], " "), commandNames())}
		}
		c.flagSet(&invocation{}, stdout).Usage()
		return invocation{}, errHelpShown
	}
	c := findCommand(args[0])
	if c == nil {
		if strings.HasPrefix(args[0], "-") {
			return invocation{}, usageError{fmt.Sprintf("unknown flag %s: flags follow the command (agora serve %s); see agora --help", args[0], args[0])}
		}
		return invocation{}, usageError{fmt.Sprintf("unknown command %q (commands: %s; see agora --help)", args[0], commandNames())}
	}
	inv := invocation{cmd: c.name}
	fs := c.flagSet(&inv, io.Discard) // errors are returned, help is printed below
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return invocation{}, errHelpShown
		}
		return invocation{}, usageError{fmt.Sprintf("%s: %v (see agora %s --help)", c.name, err, c.name)}
	}
	inv.args = fs.Args()
	ok := len(inv.args) == 0
	if c.nargs != nil {
		ok = c.nargs(len(inv.args))
	}
	if !ok {
		want := c.args
		if want == "" {
			want = "none"
		}
		return invocation{}, usageError{fmt.Sprintf("%s: want arguments %s, got %q (see agora %s --help)", c.name, want, strings.Join(inv.args, " "), c.name)}
	}
	if c.check != nil {
		if err := c.check(inv); err != nil {
			return invocation{}, usageError{fmt.Sprintf("%s: %v (see agora %s --help)", c.name, err, c.name)}
		}
	}
	return inv, nil
}

// Stamped into release binaries and images by the linker (Makefile's build and static, the
// Dockerfile's VERSION and REVISION build arguments):
//
//	go build -ldflags "-X main.version=v1.4.0 -X main.revision=$(git rev-parse HEAD)"
//
// Builds without them fall back to what the Go toolchain records (a build in a git checkout
// records its revision).
var (
	version  string // e.g. v1.4.0, or git describe's v1.4.0-3-gabc1234-dirty
	revision string // the commit, e.g. 9f2c…
)

// buildInfo is what Agora knows of its own build: version, VCS revision (and whether the tree
// had changes), revision time and module.
type buildInfo struct{ version, revision, time, module string }

func readBuildInfo() buildInfo {
	b := buildInfo{version: version, revision: revision, module: "github.com/agora/agora"}
	var vcsRevision string
	var modified bool
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path != "" {
			b.module = bi.Main.Path
		}
		if b.version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vcsRevision = s.Value
			case "vcs.time":
				b.time = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if b.revision == "" && vcsRevision != "" {
		b.revision = vcsRevision
		if modified {
			b.revision += " (modified)"
		}
	}
	if b.version == "" {
		b.version = "(unknown)"
	}
	if b.revision == "" {
		b.revision = "(unknown)"
	}
	return b
}

// printVersion is `agora version`: the stamped version and revision, else what the binary's build
// info records.
func printVersion(w io.Writer) error {
	b := readBuildInfo()
	fmt.Fprintf(w, "agora %s\nmodule: %s\nrevision: %s\n", b.version, b.module, b.revision)
	if b.time != "" {
		fmt.Fprintf(w, "revision time: %s\n", b.time)
	}
	_, err := fmt.Fprintf(w, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
