package cache

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrRedisUnavailable is what a Redis command returns at once, without being sent, while the
// Guard holds Redis for unreachable or the request has waited for Redis as long as it may.
// Callers treat it as any Redis failure: they fall back to their in-process path.
var ErrRedisUnavailable = errors.New("redis is not answering: using the in-process fallback")

// Guard bounds how long Agora waits for Redis, for every client of one go-redis client (the
// cache, rate limits, persisted queries, event publishing): it is installed as a hook.
//
//   - Each command may wait at most MaxWait, and all the commands of one request (see
//     WithWaitBudget) together at most MaxWait: past that, the request's further commands fail at
//     once. The 1 s timeouts of the connection bound a single read, not a request's several
//     commands and their retries.
//   - A command that fails for want of an answer (a timeout, a refused or dropped connection) opens
//     the breaker: from then on every command fails at once, and a probe pings Redis every
//     ProbeEvery. When Redis answers again, the Recover functions run first (e.g. the cache sends
//     the invalidations that failed meanwhile), then commands go to Redis again.
//
// So a Redis that stops answering costs the requests in flight at that moment at most MaxWait,
// and the others nothing; each part degrades to its in-process path within about a second.
//
// Subscriptions (Redis pub/sub) hold connections of their own, outside the hook: Up tells them
// whether to try.
type Guard struct {
	client     redis.UniversalClient
	log        *slog.Logger
	maxWait    time.Duration
	probeEvery time.Duration

	open   atomic.Bool // Redis is held for unreachable
	closed atomic.Bool // the guard was closed: pass everything through

	mu      sync.Mutex
	recover []func(context.Context) error
	probing bool
	quit    chan struct{}
	wg      sync.WaitGroup
}

// NewGuard installs a Guard on client. The client should be made with ContextTimeoutEnabled (as
// OpenRedis makes it), so that deadlines bound its reads and writes too, not only the wait for a
// connection.
func NewGuard(client redis.UniversalClient, log *slog.Logger, maxWait time.Duration) *Guard {
	g := &Guard{client: client, log: log, maxWait: maxWait, probeEvery: 250 * time.Millisecond, quit: make(chan struct{})}
	client.AddHook(g)
	return g
}

// OnRecover adds fn to what runs when Redis answers again after an outage, before other commands
// are sent to it; fn's commands pass. An error keeps the breaker open (the probe tries again).
func (g *Guard) OnRecover(fn func(context.Context) error) {
	g.mu.Lock()
	g.recover = append(g.recover, fn)
	g.mu.Unlock()
}

// Up reports whether Redis is answering, as far as the guard knows.
func (g *Guard) Up() bool { return !g.open.Load() }

// Close stops the probe; the hook then lets every command through.
func (g *Guard) Close() {
	if g.closed.CompareAndSwap(false, true) {
		close(g.quit)
	}
	g.wg.Wait()
}

type budgetKey struct{}

// waitBudget is what a request may still wait for Redis, in nanoseconds.
type waitBudget struct{ left atomic.Int64 }

// WithWaitBudget gives ctx's request a budget of d for waiting on Redis, all commands together
// (0: none, each command is still bounded by the guard's MaxWait).
func WithWaitBudget(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	b := &waitBudget{}
	b.left.Store(int64(d))
	return context.WithValue(ctx, budgetKey{}, b)
}

type passKey struct{}

// DialHook implements redis.Hook.
func (g *Guard) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (g *Guard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return g.run(ctx, func(ctx context.Context) error { return next(ctx, cmd) }, func(err error) { cmd.SetErr(err) })
	}
}

// ProcessPipelineHook implements redis.Hook.
func (g *Guard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return g.run(ctx, func(ctx context.Context) error { return next(ctx, cmds) }, func(err error) {
			for _, c := range cmds {
				c.SetErr(err)
			}
		})
	}
}

// run sends one command (or pipeline) within the bounds, or fails it at once.
func (g *Guard) run(ctx context.Context, send func(context.Context) error, fail func(error)) error {
	if g.closed.Load() {
		return send(ctx)
	}
	if ctx.Value(passKey{}) == nil && g.open.Load() {
		fail(ErrRedisUnavailable)
		return ErrRedisUnavailable
	}
	wait := g.maxWait
	b, _ := ctx.Value(budgetKey{}).(*waitBudget)
	if b != nil {
		if left := time.Duration(b.left.Load()); left < wait {
			wait = left
		}
		if wait <= 0 {
			fail(ErrRedisUnavailable)
			return ErrRedisUnavailable
		}
	}
	cmdCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	start := time.Now()
	err := send(cmdCtx)
	if b != nil {
		b.left.Add(-int64(time.Since(start)))
	}
	// A timeout of a command the request's budget cut short says the request waited long, not
	// that Redis stopped answering everyone.
	curtailed := wait < g.maxWait && timeout(err)
	if unanswered(ctx, err) && !curtailed && ctx.Value(passKey{}) == nil {
		g.trip(err)
	}
	return err
}

func timeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

// unanswered reports whether err means Redis did not answer (as opposed to an answer, even an
// error reply, or the caller giving up).
func unanswered(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.ErrClosed) || ctx.Err() != nil {
		return false
	}
	var reply redis.Error
	return !errors.As(err, &reply)
}

// trip opens the breaker and starts the probe.
func (g *Guard) trip(err error) {
	if !g.open.CompareAndSwap(false, true) {
		return
	}
	g.log.Warn("Redis does not answer: rate limits, persisted queries and the cache use their in-process fallbacks, "+
		"and subscriptions cannot start, until it does", "err", err)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.probing || g.closed.Load() {
		return
	}
	g.probing = true
	g.wg.Add(1)
	go g.probe()
}

// probe pings Redis until it answers and the recovery functions succeed, then closes the breaker.
func (g *Guard) probe() {
	defer g.wg.Done()
	t := time.NewTicker(g.probeEvery)
	defer t.Stop()
	for {
		select {
		case <-g.quit:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), passKey{}, true), g.maxWait)
		ok := g.client.Ping(ctx).Err() == nil && g.recovered(ctx)
		cancel()
		if ok {
			g.mu.Lock()
			g.probing = false
			g.open.Store(false)
			g.mu.Unlock()
			g.log.Info("Redis answers again: shared state is back in Redis")
			return
		}
	}
}

func (g *Guard) recovered(ctx context.Context) bool {
	g.mu.Lock()
	fns := append([]func(context.Context) error(nil), g.recover...)
	g.mu.Unlock()
	for _, fn := range fns {
		if err := fn(ctx); err != nil {
			return false
		}
	}
	return true
}
