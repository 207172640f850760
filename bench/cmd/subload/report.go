package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// print writes the run's figures: a Markdown table row (with its header) to paste, then details.
func (r *report) print(w io.Writer, c config) {
	perConn := func(before, after float64) string {
		if before == 0 || after == 0 || r.reached == 0 {
			return "?"
		}
		return fmt.Sprintf("%.1f KiB", (after-before)/float64(r.reached)/1024)
	}
	rate := 0.0
	if r.connect > 0 {
		rate = float64(r.acked) / r.connect.Seconds()
	}
	fmt.Fprintf(w, "\n## Subscriptions under load: %s subscribers, %d post(s), %s\n\n", thousands(int64(r.n)), r.posts, c.protocol)
	fmt.Fprintln(w, "| subscribers | connect rate | all acknowledged | first event reached all | server RSS per connection | of which goroutine stacks | goroutines per connection | event-to-client p50 | p99 | max | deliveries |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| %s | %s/s | %s | %s | %s | %s | %s | %s | %s | %s | %s of %s |\n",
		thousands(int64(r.n)), thousands(int64(rate)), secs(r.connect), secs(r.allReached),
		perConn(r.rssBefore, r.rssAfter), perConn(r.stackBefore, r.stackAfter),
		perConnCount(r.gorBefore, r.gorAfter, r.reached), ms(r.p50), ms(r.p99), ms(r.max), thousands(r.delivered), thousands(r.expected))

	fmt.Fprintln(w)
	fmt.Fprintf(w, "- Connections: %d of %d acknowledged, %d subscribed, %d received a first event (after %d probe comments). Dial to connection_ack p50 %s, p99 %s (%d set up at once).\n",
		r.acked, r.n, r.subscribed, r.reached, r.probes, ms(r.setupP50), ms(r.setupP99), c.concurrency)
	closedHeap := "no GC since the close: see -gc-wait"
	if r.heapClosedGC {
		closedHeap = "after a GC that followed the close"
	}
	fmt.Fprintf(w, "- Server memory: RSS %s before, %s with %d subscribers (+%s), %s after they all closed (Go returns freed memory slowly). Go heap in use (with uncollected garbage) %s → %s → %s (%s); stacks %s → %s. Open files %.0f.\n",
		mib(r.rssBefore), mib(r.rssAfter), r.reached, mib(r.rssAfter-r.rssBefore), mib(r.rssClosed),
		mib(r.heapBefore), mib(r.heapAfter), mib(r.heapClosed), closedHeap, mib(r.stackBefore), mib(r.stackAfter), r.fdsAfter)
	fmt.Fprintf(w, "- Server goroutines: %.0f before, %.0f with the subscribers, %.0f %s after every socket closed.\n",
		r.gorBefore, r.gorAfter, r.gorClosed, secs(2*c.settle))
	fmt.Fprintf(w, "- CPU seconds, connecting and subscribing (%s, probes included): server %.1f, client %.1f, other processes %.1f. Events (%s): server %.1f (%.0f µs per delivery), client %.1f, other processes %.1f. Client RSS %s.\n",
		secs(r.connectWall), r.serverCPUConnect, r.clientCPUConnect, max(0, r.otherCPUConnect), secs(r.eventsTook),
		r.serverCPUEvents, perDelivery(r.serverCPUEvents, r.delivered), r.clientCPUEvents, max(0, r.otherCPUEvents), mib(r.clientRSS))
	how := fmt.Sprintf("one at a time (%s apart after the last delivery)", c.gap)
	if c.burst {
		how = "back to back (-burst)"
	}
	fmt.Fprintf(w, "- Events: %d comments, %s, in %s. addComment round trip p50 %s; send → last delivery (fan-out) p50 %s, max %s.\n",
		r.events, how, secs(r.eventsTook), ms(r.rttP50), ms(r.fanoutP50), ms(r.fanoutMax))
	if r.held > 0 {
		fmt.Fprintf(w, "- Hold: after %s idle, one more event reached %s of %s subscribers of the post (last after %s).\n",
			secs(r.held), thousands(r.holdDelivered), thousands(r.holdExpected), ms(r.holdLatencyMax))
	}
	problems := 0
	list := func(title string, m map[string]int) {
		if len(m) == 0 {
			return
		}
		problems++
		fmt.Fprintf(w, "- %s:\n", title)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
		for i, k := range keys {
			if i == 10 {
				fmt.Fprintf(w, "  - … %d more kinds\n", len(keys)-10)
				break
			}
			fmt.Fprintf(w, "  - %d × %s\n", m[k], k)
		}
	}
	list("Connections that failed", r.dialErrs)
	list("Sockets the server ended (close code and reason)", r.closes)
	list("Unexpected frames or payloads", r.errSeen)
	if r.duplicates > 0 || r.reordered > 0 {
		problems++
		fmt.Fprintf(w, "- Events received twice: %d; out of order: %d.\n", r.duplicates, r.reordered)
	}
	if r.delivered < r.expected {
		problems++
		fmt.Fprintf(w, "- Lost: %d deliveries of %d.\n", r.expected-r.delivered, r.expected)
	}
	if r.held > 0 && r.holdDelivered < r.holdExpected {
		problems++
		fmt.Fprintf(w, "- After the hold, %d subscribers did not receive the event.\n", r.holdExpected-r.holdDelivered)
	}
	if len(r.serverLog) > 0 {
		problems++
		fmt.Fprintf(w, "- Server log, %d warnings or errors; the first:\n", len(r.serverLog))
		for _, line := range r.serverLog[:min(5, len(r.serverLog))] {
			fmt.Fprintf(w, "  - `%.300s`\n", line)
		}
	}
	if r.serverExit != "" {
		fmt.Fprintf(w, "- Server: %s.\n", r.serverExit)
	}
	if problems == 0 {
		fmt.Fprintln(w, "- Problems: none (no failed connection, unexpected close, error, lost or duplicate event, server warning).")
	}
	cpu, mem := machine()
	fmt.Fprintf(w, "- Machine: %s, %d cores, %s; client and server on it together. Whole run %s.\n", cpu, runtime.NumCPU(), mem, secs(r.total))
}

func perConnCount(before, after float64, n int) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f", (after-before)/float64(n))
}

func perDelivery(cpuSeconds float64, deliveries int64) float64 {
	if deliveries == 0 {
		return 0
	}
	return cpuSeconds * 1e6 / float64(deliveries)
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func mib(b float64) string { return fmt.Sprintf("%.0f MiB", b/(1<<20)) }

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// machine describes the CPU and memory from /proc.
func machine() (cpu, mem string) {
	cpu, mem = "unknown CPU", "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			mem = fmt.Sprintf("%.0f GiB", kb/1024/1024)
		}
	}
	return cpu, mem
}
