// Package ratelimit limits how often a key (an IP, an account) may do something. The in-process
// Memory limiter serves a single replica; a Redis implementation of Limiter shares limits across
// replicas, and Fallback keeps limits working in-process while Redis cannot be reached.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/config"
)

// Limit allows Burst events per Per, refilling evenly (GCRA, equivalent to a token bucket). It is
// the budget type the configuration parses (AGORA_RATE_LIMIT_* and AGORA_LOGIN_LIMIT_*).
type Limit = config.Budget

// emission is the time one event takes to refill: GCRA's emission interval.
func emission(l Limit) time.Duration { return l.Per / time.Duration(l.Burst) }

// Result is the outcome of taking one event.
type Result struct {
	Allowed    bool
	Remaining  int           // events still allowed at once after this one
	RetryAfter time.Duration // when refused: until the next event is allowed
	ResetAfter time.Duration // until the budget is whole again
}

// Limiter takes one event for key under limit l.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
	// Refund gives back one event Allow took for key under l, for an attempt that turned out not
	// to count (a successful sign-in). A full budget stays full.
	Refund(ctx context.Context, key string, l Limit) error
}

// Take takes one event from key's budget under l, or refuses with RATE_LIMITED, msg and the time
// to wait.
func Take(ctx context.Context, limiter Limiter, key string, l Limit, msg string) error {
	res, err := limiter.Allow(ctx, key, l)
	if err != nil {
		return err
	}
	if !res.Allowed {
		return &apperr.Error{Kind: apperr.RateLimited, Message: msg, RetryAfter: res.RetryAfter}
	}
	return nil
}

// Memory is an in-process Limiter (GCRA: one timestamp per key).
type Memory struct {
	mu  sync.Mutex
	tat map[string]time.Time // theoretical arrival time of the next event per key
	now func() time.Time
}

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory { return &Memory{tat: map[string]time.Time{}, now: time.Now} }

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, l Limit) (Result, error) {
	interval := emission(l)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	tat := m.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if allowAt := next.Add(-l.Per); now.Before(allowAt) {
		return Result{RetryAfter: allowAt.Sub(now), ResetAfter: tat.Sub(now)}, nil
	}
	if len(m.tat) > 100_000 {
		m.sweep(now)
	}
	m.tat[key] = next
	return Result{Allowed: true, Remaining: int((l.Per - next.Sub(now)) / interval), ResetAfter: next.Sub(now)}, nil
}

// Refund implements Limiter.
func (m *Memory) Refund(_ context.Context, key string, l Limit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tat, ok := m.tat[key]
	if !ok {
		return nil
	}
	if tat = tat.Add(-emission(l)); tat.After(m.now()) {
		m.tat[key] = tat
	} else {
		delete(m.tat, key)
	}
	return nil
}

// sweep drops keys whose bucket is full again: they carry no state.
func (m *Memory) sweep(now time.Time) {
	for k, t := range m.tat {
		if !t.After(now) {
			delete(m.tat, k)
		}
	}
}

// Observed is a Limiter that tells Refused the key of each event its Limiter refuses (for
// metrics).
type Observed struct {
	Limiter
	Refused func(key string)
}

// Allow implements Limiter.
func (o Observed) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := o.Limiter.Allow(ctx, key, l)
	if err == nil && !res.Allowed {
		o.Refused(key)
	}
	return res, err
}
