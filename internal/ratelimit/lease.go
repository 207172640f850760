package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Leased is a Redis Limiter that takes a large budget's events a few at a time: one Redis round
// trip takes a lease of up to leaseSize events from the shared budget, and the events of the lease
// are handed out in this process. A budget of 600 requests a minute then costs a round trip every
// 12 requests of a caller on a replica instead of every request.
//
// The approximation: leased events count as spent in the shared budget when they are leased, so
// the callers of all replicas together never get more than the budget in any burst; a replica may
// hand out a leased event up to leaseTTL after leasing it (the budget may refill meanwhile, so a
// caller may get up to leaseSize events per replica more in a window than the budget); and leased
// events not handed out within leaseTTL are lost (a caller spread over N replicas may be refused up
// to N×(leaseSize-1) events early). Budgets under 2×leaseDivisor events (sign-ins, sign-ups,
// messages, searches with their defaults) take one event per round trip, exactly as Redis does.
type Leased struct {
	redis *Redis
	now   func() time.Time

	mu     sync.Mutex
	leases map[string]*lease
}

type lease struct {
	left      int       // leased events not handed out yet
	remaining int       // what the shared budget held after the lease
	expires   time.Time // leased events are lost after this
	reset     time.Time // when the shared budget is whole again, as of the lease
}

const (
	leaseDivisor = 50          // a lease is at most 2% of the budget
	maxLease     = 50          // events per lease
	leaseTTL     = time.Second // how long leased events may be handed out
	maxLeases    = 100_000     // keys held before expired leases are swept
)

// leaseSize is how many events a lease of l takes: 1 (no lease) for small budgets.
func leaseSize(l Limit) int { return max(1, min(maxLease, l.Burst/leaseDivisor)) }

// NewLeased returns a Limiter that leases events of large budgets from r.
func NewLeased(r *Redis) *Leased {
	return &Leased{redis: r, now: time.Now, leases: map[string]*lease{}}
}

// Allow implements Limiter.
func (l *Leased) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	k := leaseSize(limit)
	if k == 1 {
		return l.redis.Allow(ctx, key, limit)
	}
	now := l.now()
	l.mu.Lock()
	if ls := l.leases[key]; ls != nil && ls.left > 0 && now.Before(ls.expires) {
		ls.left--
		res := Result{Allowed: true, Remaining: ls.remaining + ls.left, ResetAfter: max(0, ls.reset.Sub(now))}
		l.mu.Unlock()
		return res, nil
	}
	l.mu.Unlock()
	n, res, err := l.redis.take(ctx, key, limit, k)
	if err != nil || n <= 1 {
		return res, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	left := n - 1
	if ls := l.leases[key]; ls != nil && now.Before(ls.expires) {
		left += ls.left // leased concurrently by another request: still this replica's
	} else if ls == nil && len(l.leases) >= maxLeases {
		l.sweep(now)
	}
	l.leases[key] = &lease{left: left, remaining: res.Remaining, expires: now.Add(leaseTTL), reset: now.Add(res.ResetAfter)}
	res.Remaining += left
	return res, nil
}

// Refund implements Limiter: in the shared budget.
func (l *Leased) Refund(ctx context.Context, key string, limit Limit) error {
	return l.redis.Refund(ctx, key, limit)
}

// sweep drops expired leases.
func (l *Leased) sweep(now time.Time) {
	for k, ls := range l.leases {
		if !now.Before(ls.expires) {
			delete(l.leases, k)
		}
	}
}
