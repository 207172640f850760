// Command subload measures Agora's subscriptions under load: against one instance it opens N
// WebSocket subscribers (graphql-transport-ws, or the legacy graphql-ws protocol), each subscribed
// anonymously to commentAdded(postID:) on one of a few posts (by default all on one hot post), then
// triggers comments over HTTP as its own registered user and prints:
//
//   - the connect rate: connections acknowledged (connection_ack) per second, and the time until a
//     first event reached all N subscribers (the protocol does not acknowledge a subscription, so
//     probe comments are sent, each once the previous one's deliveries paused for -probe, until
//     every subscriber has received one);
//   - memory per connection: the server's RSS (VmRSS of -server-pid, else its
//     process_resident_memory_bytes metric) before and after connecting N, divided by N, with the
//     goroutine stacks and goroutines per connection from its /metrics;
//   - event-to-client latency p50/p99/max over all deliveries of -events comments, sent one at a
//     time (or back to back with -burst), from just before the addComment request to the frame's
//     arrival at each subscriber;
//   - what went wrong: failed connections, sockets the server closed by code and reason (4429: slow
//     subscriber), events lost, duplicated or reordered, server goroutines left after every socket
//     closed (and, with -gc-wait, its heap after a GC), warnings in the server's log.
//
// With -hold it keeps the sockets open that long after the events and checks that one more event
// still reaches every subscriber (keep-alive, server timeouts).
//
// One command runs everything on a fresh Agora with an embedded SQLite database and the in-process
// bus (built from the module in the current directory unless -agora names a binary), from the
// repository root:
//
//	go run ./bench/cmd/subload -start -n 5000
//	go run ./bench/cmd/subload -start -n 10000 -hold 75s -gc-wait 150s
//
// or against a running instance (run it with AGORA_LOG_LEVEL=warn: it logs every request at info):
//
//	go run ./bench/cmd/subload -url http://127.0.0.1:8080/graphql -server-pid $(pgrep -x agora) -n 5000
//
// Each socket takes a file descriptor on both sides: the tool raises its own limit (as root also
// the hard one, which a server started with -start inherits) and refuses to run when the server's
// limit (process_max_fds) is too low. From one address to one port, the kernel's ephemeral port
// range (/proc/sys/net/ipv4/ip_local_port_range, ~28,000 by default) bounds N.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type config struct {
	url              string
	n                int
	posts            int
	events           int
	concurrency      int
	protocol         string
	fields           string
	start            bool
	agoraBin         string
	serverPID        int
	serverEnv        []string
	keep             bool
	hold             time.Duration
	probe            time.Duration
	gap              time.Duration
	eventTimeout     time.Duration
	establishTimeout time.Duration
	dialTimeout      time.Duration
	settle           time.Duration
	gcWait           time.Duration
	burst            bool
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "http://127.0.0.1:8080/graphql", "Agora's GraphQL endpoint (ignored with -start)")
	flag.IntVar(&c.n, "n", 5000, "subscribers, one WebSocket connection each")
	flag.IntVar(&c.posts, "posts", 1, "posts the subscribers are spread over (round robin); events go to each in turn")
	flag.IntVar(&c.events, "events", 20, "comments to measure the event-to-client latency with, one at a time")
	flag.IntVar(&c.concurrency, "concurrency", 64, "connections being set up at once")
	flag.StringVar(&c.protocol, "protocol", "graphql-transport-ws", "WebSocket subprotocol: graphql-transport-ws or graphql-ws (legacy)")
	flag.StringVar(&c.fields, "fields", "id body author { username }", "selection set of commentAdded (must include body)")
	flag.BoolVar(&c.start, "start", false, "start Agora (embedded SQLite, in-process bus) in a temp dir and stop it at the end")
	flag.StringVar(&c.agoraBin, "agora", "", "Agora binary for -start (default: go build the module in the current directory)")
	flag.IntVar(&c.serverPID, "server-pid", 0, "PID of the server, for its VmRSS (default with -start: the started one; else its /metrics)")
	flag.Func("server-env", "KEY=VALUE for the server started by -start (repeatable), e.g. REDIS_URL=redis://…", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("want KEY=VALUE")
		}
		c.serverEnv = append(c.serverEnv, s)
		return nil
	})
	flag.BoolVar(&c.keep, "keep", false, "with -start: keep the temp dir (server log, database)")
	flag.DurationVar(&c.hold, "hold", 0, "after the events, keep the sockets open this long, then check that one more event reaches all")
	flag.DurationVar(&c.probe, "probe", 100*time.Millisecond, "until every subscriber has received an event, a probe comment goes once deliveries paused this long")
	flag.BoolVar(&c.burst, "burst", false, "send the events back to back instead of one at a time (queues build up: slow-subscriber disconnects)")
	flag.DurationVar(&c.gap, "gap", 200*time.Millisecond, "pause between one event's last delivery and the next event")
	flag.DurationVar(&c.eventTimeout, "event-timeout", 30*time.Second, "how long to wait for an event to reach every subscriber")
	flag.DurationVar(&c.establishTimeout, "establish-timeout", 2*time.Minute, "how long to wait for every subscriber to receive a first event")
	flag.DurationVar(&c.dialTimeout, "dial-timeout", 30*time.Second, "limit for one connection's dial and connection_ack")
	flag.DurationVar(&c.settle, "settle", 3*time.Second, "pause before reading the server's memory")
	flag.DurationVar(&c.gcWait, "gc-wait", 0, "after closing the sockets, wait up to this long for a server GC to measure what they left (130s covers Go's forced GC)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("subload: ")
	if c.n < 1 || c.posts < 1 || c.posts > c.n || c.events < 1 || c.concurrency < 1 {
		log.Fatal("want -n ≥ 1, 1 ≤ -posts ≤ -n, -events ≥ 1, -concurrency ≥ 1")
	}
	if c.protocol != protoTransportWS && c.protocol != protoLegacyWS {
		log.Fatalf("-protocol: want %s or %s", protoTransportWS, protoLegacyWS)
	}
	if !strings.Contains(c.fields, "body") {
		log.Fatal("-fields must select body: it carries the event's number")
	}

	// On Ctrl-C or SIGTERM the sockets close and a started server stops before we exit.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, c)
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, c config) error {
	started := time.Now()
	if err := raiseFileLimit(c.n); err != nil {
		return err
	}
	if lo, hi, err := portRange(); err == nil && c.n > hi-lo {
		log.Printf("warning: %d connections from one address to one port, but only %d ephemeral ports (%d-%d)", c.n, hi-lo+1, lo, hi)
	}

	var srv *server
	if c.start {
		var err error
		srv, err = startServer(ctx, c)
		if err != nil {
			return err
		}
		defer srv.stop(c.keep)
		c.url = srv.url
		if c.serverPID == 0 {
			c.serverPID = srv.pid()
		}
	}
	m := newMetrics(c.url, c.serverPID)
	if max, ok := m.read()["process_max_fds"]; ok && int(max) < c.n+64 {
		return fmt.Errorf("the server may open %d files, too few for %d sockets: raise its limit (ulimit -n)", int(max), c.n)
	}

	api := newAPI(c.url)
	if err := api.setUp(ctx, c.posts); err != nil {
		return err
	}
	log.Printf("user %s, %d post(s); connecting %d subscribers over %s to %s", api.username, len(api.posts), c.n, c.protocol, c.url)

	l := newLoad(c, api)
	r, err := l.run(ctx, m)
	if err != nil {
		if srv != nil {
			srv.stop(c.keep || ctx.Err() == nil) // a failure keeps the log for the post-mortem
		}
		return err
	}
	r.total = time.Since(started)
	if srv != nil {
		srv.stop(c.keep)
		r.serverLog = srv.problems()
		r.serverExit = srv.exitStatus()
	}
	r.print(os.Stdout, c)
	return nil
}

// raiseFileLimit makes room for n sockets and some files in this process. Go already raises the
// soft limit to the hard one at start-up; as root the hard one may be raised too. A server
// started by us inherits the hard limit (and raises its own soft one).
func raiseFileLimit(n int) error {
	need := uint64(n + 256)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: need, Max: need}); err != nil {
			return fmt.Errorf("%d sockets need %d open files, the hard limit is %d (ulimit -Hn) and cannot be raised: %v", n, need, lim.Max, err)
		}
		return nil
	}
	lim.Cur = need
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// portRange is the kernel's ephemeral port range.
func portRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscan(string(b), &lo, &hi)
	return lo, hi, err
}

// selfRSS is this process's resident memory in bytes.
func selfRSS() float64 { return vmRSS(os.Getpid()) }
