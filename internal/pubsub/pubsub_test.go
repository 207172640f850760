package pubsub_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/pubsub"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// patience bounds every wait, so that a lost event fails the test instead of hanging it. It is
// not a speed requirement.
const patience = 10 * time.Second

const prefix = "test:"

// backend makes buses; for Redis, buses of one backend share a server, like replicas.
type backend struct {
	name  string
	setup func(t *testing.T) (newBus func(pubsub.Options) pubsub.Bus, rdb *redis.Client)
}

var backends = []backend{
	{"memory", func(t *testing.T) (func(pubsub.Options) pubsub.Bus, *redis.Client) {
		return func(o pubsub.Options) pubsub.Bus { return closing(t, pubsub.NewMemory(o)) }, nil
	}},
	{"redis", func(t *testing.T) (func(pubsub.Options) pubsub.Bus, *redis.Client) {
		rdb := newClient(t, testenv.RedisURL(t))
		return func(o pubsub.Options) pubsub.Bus { return closing(t, pubsub.NewRedis(rdb, prefix, o)) }, rdb
	}},
}

func newClient(t *testing.T, url string) *redis.Client {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func closing(t *testing.T, b pubsub.Bus) pubsub.Bus {
	t.Cleanup(func() { b.Close() })
	return b
}

func subscribe(t *testing.T, ctx context.Context, b pubsub.Bus, topic string) *pubsub.Subscription {
	t.Helper()
	s, err := b.Subscribe(ctx, topic)
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return s
}

func publish(t *testing.T, b pubsub.Bus, topic, payload string) {
	t.Helper()
	if err := b.Publish(t.Context(), topic, []byte(payload)); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// next returns the subscription's next event.
func next(t *testing.T, s *pubsub.Subscription) string {
	t.Helper()
	select {
	case p, ok := <-s.Events():
		if !ok {
			t.Fatalf("subscription ended: %v", s.Err())
		}
		return string(p)
	case <-time.After(patience):
		t.Fatalf("no event within %v", patience)
		return ""
	}
}

// drain reads the subscription until it ends and returns what was left in its buffer.
func drain(t *testing.T, s *pubsub.Subscription) []string {
	t.Helper()
	var got []string
	deadline := time.After(patience)
	for {
		select {
		case p, ok := <-s.Events():
			if !ok {
				return got
			}
			got = append(got, string(p))
		case <-deadline:
			t.Fatalf("subscription still open after %v", patience)
		}
	}
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", patience, what)
		}
	}
}

// Each subscriber of a topic receives its events, in order, and nothing of other topics.
func TestDelivery(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			newBus, _ := be.setup(t)
			b, ctx := newBus(pubsub.Options{Buffer: 256}), t.Context()
			subs := []*pubsub.Subscription{subscribe(t, ctx, b, "a"), subscribe(t, ctx, b, "a"), subscribe(t, ctx, b, "a")}
			other := subscribe(t, ctx, b, "b")

			for i := range 100 {
				publish(t, b, "a", strconv.Itoa(i))
			}
			publish(t, b, "b", "for b")
			publish(t, b, "a", "end") // after the event for b: it would come before this one
			for n, s := range subs {
				for i := range 100 {
					if got := next(t, s); got != strconv.Itoa(i) {
						t.Fatalf("subscriber %d: event %d is %q", n, i, got)
					}
				}
				if got := next(t, s); got != "end" {
					t.Fatalf("subscriber %d of a received %q", n, got)
				}
			}
			if got := next(t, other); got != "for b" {
				t.Fatalf("subscriber of b received %q", got)
			}
		})
	}
}

// A subscriber that does not keep up is ended; the others on its topic miss nothing.
func TestSlowSubscriber(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			newBus, _ := be.setup(t)
			b, ctx := newBus(pubsub.Options{Buffer: 4}), t.Context()
			slow, fast := subscribe(t, ctx, b, "t"), subscribe(t, ctx, b, "t")
			for i := range 20 {
				publish(t, b, "t", strconv.Itoa(i))
				if got := next(t, fast); got != strconv.Itoa(i) {
					t.Fatalf("fast subscriber: event %d is %q", i, got)
				}
			}
			if got := drain(t, slow); strings.Join(got, ",") != "0,1,2,3" {
				t.Fatalf("slow subscriber kept %q, want its buffer of 4 first events", got)
			}
			if !errors.Is(slow.Err(), pubsub.ErrSlowSubscriber) {
				t.Fatalf("slow subscriber ended with %v", slow.Err())
			}
			if fast.Err() != nil {
				t.Fatalf("fast subscriber: %v", fast.Err())
			}
		})
	}
}

// A topic takes at most MaxPerTopic subscribers in a process; one that leaves makes room, and
// other topics are not affected.
func TestMaxPerTopic(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			newBus, _ := be.setup(t)
			b, ctx := newBus(pubsub.Options{MaxPerTopic: 3}), t.Context()
			subs := []*pubsub.Subscription{subscribe(t, ctx, b, "t"), subscribe(t, ctx, b, "t"), subscribe(t, ctx, b, "t")}
			if _, err := b.Subscribe(ctx, "t"); !errors.Is(err, pubsub.ErrTopicFull) {
				t.Fatalf("a 4th subscriber of a topic capped at 3: %v, want ErrTopicFull", err)
			}
			other := subscribe(t, ctx, b, "other")
			subs[0].Close()
			subs = append(subs[1:], subscribe(t, ctx, b, "t"))
			publish(t, b, "t", "x")
			for i, s := range subs {
				if got := next(t, s); got != "x" {
					t.Fatalf("subscriber %d: %q", i, got)
				}
			}
			publish(t, b, "other", "y")
			if got := next(t, other); got != "y" {
				t.Fatalf("other topic: %q", got)
			}
		})
	}
}

// Cancelling a subscription's ctx or closing it stops delivery; with Redis, the channel is
// unsubscribed once its last local subscriber leaves, and a new subscriber subscribes it again.
func TestUnsubscribe(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			newBus, rdb := be.setup(t)
			b := newBus(pubsub.Options{})
			numsub := func() int64 {
				n, err := rdb.PubSubNumSub(t.Context(), prefix+"t").Result()
				if err != nil {
					t.Fatal(err)
				}
				return n[prefix+"t"]
			}

			ctx, cancel := context.WithCancel(t.Context())
			cancelled, closed, stays := subscribe(t, ctx, b, "t"), subscribe(t, t.Context(), b, "t"), subscribe(t, t.Context(), b, "t")
			cancel()
			closed.Close()
			for name, s := range map[string]*pubsub.Subscription{"cancelled": cancelled, "closed": closed} {
				if got := drain(t, s); len(got) > 0 || s.Err() != nil {
					t.Fatalf("%s subscription: events %q, err %v", name, got, s.Err())
				}
			}
			publish(t, b, "t", "x")
			if got := next(t, stays); got != "x" {
				t.Fatalf("remaining subscriber received %q", got)
			}
			if rdb != nil && numsub() != 1 {
				t.Fatalf("NUMSUB %d with a subscriber left, want 1", numsub())
			}

			stays.Close()
			if rdb != nil {
				eventually(t, "the channel is still subscribed", func() bool { return numsub() == 0 })
				eventually(t, "channels are left subscribed", func() bool {
					chans, err := rdb.PubSubChannels(t.Context(), "*").Result()
					return err == nil && len(chans) == 0
				})
			}

			again := subscribe(t, t.Context(), b, "t")
			publish(t, b, "t", "y")
			if got := next(t, again); got != "y" {
				t.Fatalf("new subscriber received %q", got)
			}
		})
	}
}

// Closing the bus ends its subscriptions; a closed bus refuses work.
func TestClose(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			newBus, _ := be.setup(t)
			b := newBus(pubsub.Options{})
			s := subscribe(t, t.Context(), b, "t")
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			drain(t, s)
			if !errors.Is(s.Err(), pubsub.ErrBusClosed) {
				t.Fatalf("subscription ended with %v", s.Err())
			}
			if _, err := b.Subscribe(t.Context(), "t"); !errors.Is(err, pubsub.ErrBusClosed) {
				t.Fatalf("Subscribe on a closed bus: %v", err)
			}
			if err := b.Publish(t.Context(), "t", nil); !errors.Is(err, pubsub.ErrBusClosed) {
				t.Fatalf("Publish on a closed bus: %v", err)
			}
		})
	}
}

// No goroutine outlives the subscriptions and the bus.
func TestGoroutines(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			newBus, rdb := be.setup(t)
			if rdb != nil {
				if err := rdb.Ping(t.Context()).Err(); err != nil { // the client's own connections
					t.Fatal(err)
				}
			}
			baseline := runtime.NumGoroutine()
			b := newBus(pubsub.Options{})
			ctx, cancel := context.WithCancel(t.Context())
			subs := make([]*pubsub.Subscription, 200)
			for i := range subs {
				subs[i] = subscribe(t, ctx, b, "t"+strconv.Itoa(i%50))
			}
			publish(t, b, "t0", "x")
			for i := 0; i < len(subs); i += 50 {
				if got := next(t, subs[i]); got != "x" {
					t.Fatalf("received %q", got)
				}
			}
			cancel()
			for _, s := range subs {
				drain(t, s)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(patience); runtime.NumGoroutine() > baseline; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					var dump strings.Builder
					pprof.Lookup("goroutine").WriteTo(&dump, 1)
					t.Fatalf("%d goroutines, %d before the bus:\n%s", runtime.NumGoroutine(), baseline, dump.String())
				}
			}
		})
	}
}

// Replicas share events through Redis, and an event published as soon as Subscribe returns
// on another replica is delivered, also to a topic that was just unsubscribed.
func TestRedisReplicas(t *testing.T) {
	rdb := newClient(t, testenv.RedisURL(t))
	a, b := pubsub.NewRedis(rdb, prefix, pubsub.Options{}), pubsub.NewRedis(rdb, prefix, pubsub.Options{})
	defer a.Close()
	defer b.Close()

	onA, onB := subscribe(t, t.Context(), a, "t"), subscribe(t, t.Context(), b, "t")
	publish(t, a, "t", "from a")
	publish(t, b, "t", "from b")
	for name, s := range map[string]*pubsub.Subscription{"a": onA, "b": onB} {
		if got := next(t, s) + "," + next(t, s); got != "from a,from b" {
			t.Fatalf("subscriber on %s received %s", name, got)
		}
	}

	for i := range 50 {
		topic := "churn" + strconv.Itoa(i%5) // each topic is subscribed, unsubscribed, subscribed again
		s := subscribe(t, t.Context(), b, topic)
		publish(t, a, topic, strconv.Itoa(i))
		if got := next(t, s); got != strconv.Itoa(i) {
			t.Fatalf("round %d: received %q", i, got)
		}
		s.Close()
	}
}

// After Redis drops the pub/sub connection, go-redis reconnects and resubscribes: subscriptions
// stay open and receive what is published afterwards (what was published meanwhile is lost).
func TestRedisReconnect(t *testing.T) {
	rdb := newClient(t, testenv.RedisURL(t))
	b := pubsub.NewRedis(rdb, prefix, pubsub.Options{Buffer: 1024})
	defer b.Close()
	s := subscribe(t, t.Context(), b, "t")

	if killed, err := rdb.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Result(); err != nil || killed != 1 {
		t.Fatalf("CLIENT KILL: %d killed, %v", killed, err)
	}
	n := 0
	eventually(t, "no event after the connection was dropped", func() bool {
		n++
		publish(t, b, "t", strconv.Itoa(n))
		select {
		case _, ok := <-s.Events():
			if !ok {
				t.Fatalf("subscription ended: %v", s.Err())
			}
			return true
		default:
			return false
		}
	})
	other := subscribe(t, t.Context(), b, "other")
	publish(t, b, "other", "x")
	if got := next(t, other); got != "x" {
		t.Fatalf("received %q", got)
	}
}

// After redis-server itself restarts (empty), go-redis reconnects and resubscribes: an open
// subscription receives what is published once Redis is back.
func TestRedisRestart(t *testing.T) {
	srv := testenv.NewRedisServer(t)
	rdb := newClient(t, srv.URL())
	b := pubsub.NewRedis(rdb, prefix, pubsub.Options{Buffer: 1024})
	defer b.Close()
	s := subscribe(t, t.Context(), b, "t")
	srv.Stop(t)
	if err := b.Publish(t.Context(), "t", []byte("lost")); err == nil {
		t.Fatal("Publish succeeded with Redis down")
	}
	srv.Start(t)
	eventually(t, "no event after Redis restarted", func() bool {
		_ = b.Publish(t.Context(), "t", []byte("back")) // the first may fail on a dead pooled connection
		select {
		case p, ok := <-s.Events():
			if !ok {
				t.Fatalf("subscription ended: %v", s.Err())
			}
			return string(p) == "back"
		default:
			return false
		}
	})
}

// With Redis unreachable, Subscribe fails as unavailable instead of waiting, and Close returns.
func TestRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1})
	defer rdb.Close()
	b := pubsub.NewRedis(rdb, prefix, pubsub.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = b.Subscribe(ctx, "t")
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Unavailable {
		t.Fatalf("Subscribe: %v, want an Unavailable error", err)
	}
	if err := b.Publish(ctx, "t", nil); err == nil {
		t.Fatal("Publish succeeded")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// A confirmation lost with a dropped connection comes again after go-redis reconnects, so a
// Subscribe waiting for it returns then, subscribed. A Subscribe whose ctx ends while it waits
// returns the ctx's error.
func TestRedisLostConfirmation(t *testing.T) {
	url := testenv.RedisURL(t)
	rdb := newClient(t, url)
	p := newProxy(t, rdb.Options().Addr)
	proxied := redis.NewClient(&redis.Options{Addr: p.addr()})
	defer proxied.Close()
	b := pubsub.NewRedis(proxied, prefix, pubsub.Options{})
	defer b.Close()
	subscribe(t, t.Context(), b, "warm") // the pub/sub connection is up

	subscribed := func(topic string) func() bool {
		return func() bool {
			n, err := rdb.PubSubNumSub(t.Context(), prefix+topic).Result()
			return err == nil && n[prefix+topic] == 1
		}
	}
	type result struct {
		s   *pubsub.Subscription
		err error
	}
	start := func(ctx context.Context, topic string) chan result {
		done := make(chan result, 1)
		go func() {
			s, err := b.Subscribe(ctx, topic)
			done <- result{s, err}
		}()
		return done
	}

	p.drop(true) // Redis runs the SUBSCRIBEs; their replies are lost
	lost := start(t.Context(), "t")
	ctx, cancel := context.WithCancel(t.Context())
	abandoned := start(ctx, "u")
	eventually(t, "SUBSCRIBE t did not reach Redis", subscribed("t"))
	eventually(t, "SUBSCRIBE u did not reach Redis", subscribed("u"))
	cancel()
	if r := <-abandoned; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Subscribe with a cancelled ctx: %v", r.err)
	}
	select {
	case r := <-lost:
		t.Fatalf("Subscribe returned before its confirmation: %v", r.err)
	default:
	}

	p.drop(false)
	p.cut() // go-redis reconnects and resubscribes
	var r result
	select {
	case r = <-lost:
	case <-time.After(patience):
		t.Fatalf("Subscribe still waiting %v after the reconnect", patience)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if err := rdb.Publish(t.Context(), prefix+"t", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if got := next(t, r.s); got != "x" {
		t.Fatalf("received %q", got)
	}
	eventually(t, "u is still subscribed", func() bool { return !subscribed("u")() })
}

// proxy forwards TCP connections to a server, and can drop the server's replies or cut every
// connection.
type proxy struct {
	ln       net.Listener
	target   string
	dropping atomic.Bool
	mu       sync.Mutex
	conns    []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go io.Copy(s, c)
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 && !p.dropping.Load() {
						c.Write(buf[:n])
					}
					if err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }
func (p *proxy) drop(on bool) { p.dropping.Store(on) }
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
