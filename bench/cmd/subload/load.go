package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// The WebSocket subprotocols Agora serves.
const (
	protoTransportWS = "graphql-transport-ws" // the graphql-ws library's protocol
	protoLegacyWS    = "graphql-ws"           // subscriptions-transport-ws
)

// Comment bodies: probes until every subscriber is reached, then numbered events.
const (
	probePrefix = "subload probe "
	eventPrefix = "subload event "
)

// load is one run: N subscribers and the events sent to them.
type load struct {
	c   config
	api *api
	t0  time.Time // start of the connect phase; every time below is relative to it (monotonic)

	subs []*subscriber
	live []atomic.Int64 // per post: subscribers subscribed and not failed since

	acked, ackLast        atomic.Int64 // connections acknowledged; when the last was (ns)
	subscribed            atomic.Int64 // subscribe messages sent
	reached, reachedLast  atomic.Int64 // subscribers that received a first event; when the last did
	probesGot             atomic.Int64 // probe deliveries
	duplicates, reordered atomic.Int64 // events a subscriber received twice / before an earlier one
	setup                 []int64      // per connection: dial to connection_ack (ns), 0 when failed

	mu       sync.Mutex
	dialErrs map[string]int // setup failures by kind
	closes   map[string]int // sockets the server closed, by code and reason
	errSeen  map[string]int // error payloads by text

	closing atomic.Bool // we are closing the sockets: their ends are expected

	subscribeMsg [][]byte                // per post: the subscribe (start) frame
	events       []atomic.Pointer[event] // by number, 1-based (index 0 unused)
}

// subscriber is one connection with one subscription. Only its reader goroutine touches it after
// setup, but for reached (read by the prober).
type subscriber struct {
	conn    *websocket.Conn
	post    int
	reached atomic.Bool
	lastSeq int
}

// event is one measured comment.
type event struct {
	post   int
	sentNs atomic.Int64 // when the addComment request was about to go (ns since t0)
	rtt    time.Duration
	want   int64
	got    atomic.Int64
	lat    []int64 // ns, one per delivery, in arrival order
	lastNs atomic.Int64
	done   chan struct{}
}

func newLoad(c config, a *api) *load {
	l := &load{c: c, api: a, subs: make([]*subscriber, c.n), live: make([]atomic.Int64, len(a.posts)),
		setup: make([]int64, c.n), dialErrs: map[string]int{}, closes: map[string]int{}, errSeen: map[string]int{}}
	for i := range l.subs {
		l.subs[i] = &subscriber{post: i % len(a.posts)}
	}
	typ := "subscribe"
	if c.protocol == protoLegacyWS {
		typ = "start"
	}
	query := "subscription($post: ID!) { commentAdded(postID: $post) { " + c.fields + " } }"
	for _, id := range a.posts {
		payload, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"post": id}})
		msg, _ := json.Marshal(frame{ID: "1", Type: typ, Payload: payload})
		l.subscribeMsg = append(l.subscribeMsg, msg)
	}
	l.events = make([]atomic.Pointer[event], c.events+2)
	return l
}

func (l *load) since() int64 { return int64(time.Since(l.t0)) }

func (l *load) count(m map[string]int, key string) {
	l.mu.Lock()
	m[key]++
	l.mu.Unlock()
}

// maxInto raises a to v.
func maxInto(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// report holds the figures of a run.
type report struct {
	n, posts, acked, subscribed, reached, probes int
	connect, allReached, connectWall             time.Duration
	setupP50, setupP99                           time.Duration
	rssBefore, rssAfter, rssClosed               float64
	heapBefore, heapAfter, heapClosed            float64 // Go heap in use (garbage not yet collected included)
	heapClosedGC                                 bool    // heapClosed is right after a GC that followed the close
	stackBefore, stackAfter                      float64 // goroutine stacks in use
	gorBefore, gorAfter, gorClosed               float64
	fdsAfter                                     float64
	clientRSS                                    float64
	serverCPUConnect, serverCPUEvents            float64
	clientCPUConnect, clientCPUEvents            float64
	otherCPUConnect, otherCPUEvents              float64 // other processes on the machine
	events                                       int
	delivered, expected                          int64
	p50, p99, max, fanoutP50, fanoutMax          time.Duration
	rttP50                                       time.Duration
	eventsTook                                   time.Duration
	holdDelivered, holdExpected                  int64
	holdLatencyMax                               time.Duration
	held                                         time.Duration
	dialErrs, closes, errSeen                    map[string]int
	duplicates, reordered                        int64
	serverLog                                    []string
	serverExit                                   string
	total                                        time.Duration
}

func (l *load) run(ctx context.Context, m *metrics) (*report, error) {
	c := l.c
	r := &report{n: c.n, posts: len(l.api.posts)}
	before := m.read()
	r.rssBefore, r.gorBefore = before["rss"], before["go_goroutines"]
	r.heapBefore, r.stackBefore = before["go_memstats_heap_inuse_bytes"], before["go_memstats_stack_inuse_bytes"]
	cpu0, self0, machine0 := before["process_cpu_seconds_total"], clientCPU(), machineCPU()

	// Connect: dial, connection_init, connection_ack, subscribe; -concurrency at a time.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var readers sync.WaitGroup
	dialer := &http.Client{Transport: &http.Transport{
		DialContext:       (&net.Dialer{Timeout: c.dialTimeout}).DialContext,
		DisableKeepAlives: true,
	}}
	l.t0 = time.Now()
	sem := make(chan struct{}, c.concurrency)
	var setups sync.WaitGroup
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	for i, s := range l.subs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		select {
		case <-progress.C:
			log.Printf("  %d connections acknowledged, %d failed, after %.1fs", l.acked.Load(), l.failed(), time.Since(l.t0).Seconds())
		default:
		}
		setups.Add(1)
		go func() {
			defer setups.Done()
			err := l.connect(runCtx, dialer, s, i)
			<-sem
			if err != nil {
				l.count(l.dialErrs, errorKind(err))
				return
			}
			readers.Add(1)
			go func() {
				defer readers.Done()
				l.read(runCtx, s)
			}()
		}()
	}
	setups.Wait()
	r.acked, r.subscribed = int(l.acked.Load()), int(l.subscribed.Load())
	r.connect = time.Duration(l.ackLast.Load())
	r.setupP50, r.setupP99 = durations(l.setup, 0.50), durations(l.setup, 0.99)
	log.Printf("%d of %d connections acknowledged in %.2fs (%.0f/s); %d failed", r.acked, c.n, r.connect.Seconds(), float64(r.acked)/r.connect.Seconds(), l.failed())
	if r.acked == 0 {
		return nil, fmt.Errorf("no connection was acknowledged: %v", l.dialErrs)
	}

	// Probe until every subscriber has received an event: then all are subscribed.
	// The next probe goes once the deliveries of the previous one have paused for -probe.
	log.Printf("probing until all %d subscriptions deliver", r.subscribed)
	deadline := time.Now().Add(c.establishTimeout)
	probes := 0
	for l.reached.Load() < l.liveTotal() {
		if time.Now().After(deadline) {
			log.Printf("warning: after %v only %d of %d subscribers received an event", c.establishTimeout, l.reached.Load(), l.liveTotal())
			break
		}
		probes++
		for p := range l.api.posts {
			if err := l.api.comment(ctx, p, probePrefix+strconv.Itoa(probes)); err != nil {
				return nil, fmt.Errorf("probe comment: %w", err)
			}
		}
		got, quietSince := l.probesGot.Load(), time.Now()
		for l.reached.Load() < l.liveTotal() && time.Since(quietSince) < c.probe {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
			if now := l.probesGot.Load(); now != got {
				got, quietSince = now, time.Now()
			}
		}
	}
	r.probes = probes
	r.reached = int(l.reached.Load())
	r.allReached = time.Duration(l.reachedLast.Load())
	log.Printf("%d subscribers received a first event %.2fs after the first dial", r.reached, r.allReached.Seconds())

	time.Sleep(c.settle)
	after := m.read()
	r.rssAfter, r.gorAfter, r.fdsAfter = after["rss"], after["go_goroutines"], after["process_open_fds"]
	r.heapAfter, r.stackAfter = after["go_memstats_heap_inuse_bytes"], after["go_memstats_stack_inuse_bytes"]
	r.serverCPUConnect = after["process_cpu_seconds_total"] - cpu0
	r.clientCPUConnect = clientCPU() - self0
	r.otherCPUConnect = machineCPU() - machine0 - r.serverCPUConnect - r.clientCPUConnect
	r.connectWall = time.Since(l.t0)
	r.clientRSS = selfRSS()

	// Events, one at a time, each to every subscriber of its post.
	log.Printf("sending %d events", c.events)
	cpu1, self1, machine1 := after["process_cpu_seconds_total"], clientCPU(), machineCPU()
	eventsStart := time.Now()
	for i := 1; i <= c.events; i++ {
		if err := l.send(ctx, i, (i-1)%len(l.api.posts), !c.burst); err != nil {
			return nil, err
		}
		if !c.burst {
			time.Sleep(c.gap)
		}
	}
	if c.burst {
		for i := 1; i <= c.events; i++ {
			if err := l.await(ctx, i); err != nil {
				return nil, err
			}
		}
	}
	r.eventsTook = time.Since(eventsStart)
	r.serverCPUEvents = m.read()["process_cpu_seconds_total"] - cpu1
	r.clientCPUEvents = clientCPU() - self1
	r.otherCPUEvents = machineCPU() - machine1 - r.serverCPUEvents - r.clientCPUEvents
	var all, fanout, rtts []int64
	for i := 1; i <= c.events; i++ {
		e := l.events[i].Load()
		got := min(e.got.Load(), int64(len(e.lat)))
		all = append(all, e.lat[:got]...)
		r.delivered += e.got.Load()
		r.expected += e.want
		if e.lastNs.Load() > 0 {
			fanout = append(fanout, e.lastNs.Load()-e.sentNs.Load())
		}
		rtts = append(rtts, int64(e.rtt))
	}
	r.events = c.events
	r.p50, r.p99, r.max = durations(all, 0.50), durations(all, 0.99), durations(all, 1)
	r.fanoutP50, r.fanoutMax = durations(fanout, 0.50), durations(fanout, 1)
	r.rttP50 = durations(rtts, 0.50)

	// Hold: sockets idle for a while must still be there and deliver.
	if c.hold > 0 {
		log.Printf("holding %d sockets for %v", l.liveTotal(), c.hold)
		holdStart := time.Now()
		for time.Since(holdStart) < c.hold {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(min(10*time.Second, c.hold-time.Since(holdStart))):
			}
			log.Printf("  %.0fs: %d sockets subscribed, server closed %d", time.Since(holdStart).Seconds(), l.liveTotal(), l.closedCount())
		}
		r.held = time.Since(holdStart)
		i := c.events + 1
		if err := l.send(ctx, i, 0, true); err != nil {
			return nil, err
		}
		e := l.events[i].Load()
		r.holdDelivered = e.got.Load()
		for _, s := range l.subs {
			if s.post == 0 && s.conn != nil {
				r.holdExpected++ // every subscriber of the post that was set up
			}
		}
		got := min(e.got.Load(), int64(len(e.lat)))
		r.holdLatencyMax = durations(e.lat[:got], 1)
	}

	// Close every socket, then see what the server keeps.
	log.Printf("closing the sockets")
	l.closing.Store(true)
	var closers sync.WaitGroup
	sem = make(chan struct{}, 256)
	for _, s := range l.subs {
		if s.conn == nil {
			continue
		}
		closers.Add(1)
		sem <- struct{}{}
		go func() {
			defer closers.Done()
			_ = s.conn.Close(websocket.StatusNormalClosure, "")
			<-sem
		}()
	}
	closers.Wait()
	cancel()
	readers.Wait()
	closedAt := float64(time.Now().UnixNano()) / 1e9
	time.Sleep(2 * c.settle)
	closed := m.read()
	if c.gcWait > 0 {
		// An idle Go program collects at least every two minutes: wait for a collection after the
		// close, so that the live heap says what the connections left behind.
		log.Printf("waiting up to %v for a server GC", c.gcWait)
		for until := time.Now().Add(c.gcWait); closed["go_memstats_last_gc_time_seconds"] < closedAt && time.Now().Before(until); {
			time.Sleep(time.Second)
			closed = m.read()
		}
		r.heapClosedGC = closed["go_memstats_last_gc_time_seconds"] >= closedAt
	}
	r.rssClosed, r.gorClosed, r.heapClosed = closed["rss"], closed["go_goroutines"], closed["go_memstats_heap_inuse_bytes"]

	r.dialErrs, r.closes, r.errSeen = l.dialErrs, l.closes, l.errSeen
	r.duplicates, r.reordered = l.duplicates.Load(), l.reordered.Load()
	return r, nil
}

// send comments on post p with event number i and, if wait, waits until every subscriber of the
// post has it, or -event-timeout.
func (l *load) send(ctx context.Context, i, p int, wait bool) error {
	want := l.live[p].Load()
	e := &event{post: p, want: want, lat: make([]int64, want), done: make(chan struct{})}
	if want == 0 {
		close(e.done)
	}
	l.events[i].Store(e)
	start := time.Now()
	e.sentNs.Store(l.since())
	if err := l.api.comment(ctx, p, eventPrefix+strconv.Itoa(i)); err != nil {
		return fmt.Errorf("event %d: %w", i, err)
	}
	e.rtt = time.Since(start)
	if !wait {
		return nil
	}
	return l.await(ctx, i)
}

// await waits until every subscriber has event i, or -event-timeout after it was sent.
func (l *load) await(ctx context.Context, i int) error {
	e := l.events[i].Load()
	select {
	case <-e.done:
	case <-time.After(time.Duration(e.sentNs.Load()-l.since()) + l.c.eventTimeout):
		log.Printf("warning: event %d reached %d of %d subscribers within %v", i, e.got.Load(), e.want, l.c.eventTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// connect sets up subscriber i: dial, connection_init, connection_ack, subscribe.
func (l *load) connect(ctx context.Context, dialer *http.Client, s *subscriber, i int) error {
	start := l.since()
	dctx, cancel := context.WithTimeout(ctx, l.c.dialTimeout)
	defer cancel()
	url := "ws" + strings.TrimPrefix(l.c.url, "http")
	conn, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPClient: dialer, Subprotocols: []string{l.c.protocol}})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	if err := conn.Write(dctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{}}`)); err != nil {
		conn.CloseNow()
		return fmt.Errorf("connection_init: %w", err)
	}
	for {
		_, b, err := conn.Read(dctx)
		if err != nil {
			conn.CloseNow()
			return fmt.Errorf("waiting for connection_ack: %w", err)
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			conn.CloseNow()
			return fmt.Errorf("waiting for connection_ack: %w", err)
		}
		if f.Type == "connection_ack" {
			break
		}
		if f.Type == "connection_error" {
			conn.CloseNow()
			return fmt.Errorf("connection_error: %s", f.Payload)
		}
	}
	now := l.since()
	l.setup[i] = now - start
	l.acked.Add(1)
	maxInto(&l.ackLast, now)

	if err := conn.Write(dctx, websocket.MessageText, l.subscribeMsg[s.post]); err != nil {
		conn.CloseNow()
		return fmt.Errorf("subscribe: %w", err)
	}
	s.conn = conn
	l.subscribed.Add(1)
	l.live[s.post].Add(1)
	return nil
}

// frame is a message of either protocol.
type frame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// next is the payload of a next (data) frame.
type next struct {
	Data *struct {
		CommentAdded *struct {
			Body string `json:"body"`
		} `json:"commentAdded"`
	} `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

var pong = []byte(`{"type":"pong"}`)

// read receives s's frames until the socket ends, recording each event's arrival.
func (l *load) read(ctx context.Context, s *subscriber) {
	failed := false
	fail := func() {
		if !failed {
			failed = true
			l.live[s.post].Add(-1)
		}
	}
	defer fail()
	for {
		_, b, err := s.conn.Read(ctx)
		now := l.since()
		if err != nil {
			if !l.closing.Load() && ctx.Err() == nil {
				code := websocket.CloseStatus(err)
				key := "no close frame: " + errorKind(err)
				if code != -1 {
					var ce websocket.CloseError
					errors.As(err, &ce)
					key = fmt.Sprintf("%d %s", code, ce.Reason)
				}
				l.count(l.closes, key)
			}
			return
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			l.count(l.errSeen, "undecodable frame: "+err.Error())
			continue
		}
		switch f.Type {
		case "next", "data":
			var n next
			if err := json.Unmarshal(f.Payload, &n); err != nil || n.Data == nil || n.Data.CommentAdded == nil {
				l.count(l.errSeen, fmt.Sprintf("next without commentAdded: %.200s", f.Payload))
				fail()
				continue
			}
			if len(n.Errors) > 0 {
				l.count(l.errSeen, fmt.Sprintf("errors in an event: %.200s", f.Payload))
			}
			l.deliver(s, n.Data.CommentAdded.Body, now)
		case "error":
			l.count(l.errSeen, fmt.Sprintf("error: %.200s", f.Payload))
			fail()
		case "complete":
			l.count(l.errSeen, "subscription completed by the server")
			fail()
		case "ping":
			_ = s.conn.Write(ctx, websocket.MessageText, pong)
		case "ka", "pong":
		default:
			l.count(l.errSeen, "unexpected frame "+f.Type)
		}
	}
}

// deliver records that s received the comment with body at now.
func (l *load) deliver(s *subscriber, body string, now int64) {
	if !s.reached.Load() {
		s.reached.Store(true)
		l.reached.Add(1)
		maxInto(&l.reachedLast, now)
	}
	seqText, ok := strings.CutPrefix(body, eventPrefix)
	if !ok {
		l.probesGot.Add(1)
		return
	}
	seq, err := strconv.Atoi(seqText)
	var e *event
	if err == nil && seq >= 1 && seq < len(l.events) {
		e = l.events[seq].Load()
	}
	if e == nil {
		l.count(l.errSeen, "unknown event "+body)
		return
	}
	switch {
	case seq == s.lastSeq:
		l.duplicates.Add(1)
		return
	case seq < s.lastSeq:
		l.reordered.Add(1)
	default:
		s.lastSeq = seq
	}
	n := e.got.Add(1)
	if n <= int64(len(e.lat)) {
		e.lat[n-1] = now - e.sentNs.Load()
	}
	maxInto(&e.lastNs, now)
	if n == e.want {
		close(e.done)
	}
}

func (l *load) liveTotal() int64 {
	var n int64
	for i := range l.live {
		n += l.live[i].Load()
	}
	return n
}

func (l *load) failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range l.dialErrs {
		n += v
	}
	return n
}

func (l *load) closedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range l.closes {
		n += v
	}
	return n
}

var (
	portRE = regexp.MustCompile(`:\d+`)
	addrRE = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+`)
)

// errorKind is err without the addresses and ports that make every instance unique.
func errorKind(err error) string {
	if errors.Is(err, syscall.EMFILE) {
		return "too many open files (ulimit -n)"
	}
	s := addrRE.ReplaceAllString(portRE.ReplaceAllString(err.Error(), ":P"), "A")
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

// durations returns the q quantile of ns values (zeros, which mark failures, left out).
func durations(ns []int64, q float64) time.Duration {
	v := make([]int64, 0, len(ns))
	for _, x := range ns {
		if x > 0 {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	i := int(q*float64(len(v))+0.5) - 1
	i = max(0, min(len(v)-1, i))
	return time.Duration(v[i])
}

// machineCPU is the CPU seconds every process on the machine used so far (/proc/stat: all but
// idle and iowait).
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var ticks float64
	for i, v := range f[1:min(len(f), 9)] {
		if i == 3 || i == 4 {
			continue
		}
		t, _ := strconv.ParseFloat(v, 64)
		ticks += t
	}
	return ticks / 100 // USER_HZ
}

// clientCPU is this process's user + system CPU seconds.
func clientCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
