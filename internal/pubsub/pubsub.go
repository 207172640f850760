// Package pubsub carries events from the code that commits a change to the GraphQL subscriptions
// that show it. Domain packages publish after commit; each replica delivers to the subscribers
// connected to it. The in-process Memory bus serves a single replica; the Redis bus shares events
// between replicas through Redis pub/sub.
//
// Delivery is at most once, in publish order per topic and publisher: an event reaches the
// subscriptions that existed when it arrived. A subscriber that falls behind is dropped with
// ErrSlowSubscriber rather than allowed to slow the publisher or the other subscribers.
package pubsub

import (
	"context"
	"errors"
	"sync"
)

// Bus publishes events to topics and delivers them to local subscribers.
type Bus interface {
	// Publish sends payload to the topic's subscribers. The bus keeps its own copy of payload.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe delivers the topic's events to the returned Subscription until ctx ends or the
	// Subscription is closed. Events published, on any replica, after Subscribe returns are
	// delivered, unless the connection to Redis drops meanwhile.
	Subscribe(ctx context.Context, topic string) (*Subscription, error)
	// Close ends every subscription with ErrBusClosed and releases the bus.
	Close() error
}

// Options tune a bus.
type Options struct {
	// Buffer is how many events a subscriber may fall behind before it is dropped (default 64).
	Buffer int
	// MaxPerTopic caps the subscribers of one topic in this process (0: no cap): the work of
	// delivering one event grows with them. Subscribe beyond it fails with ErrTopicFull.
	MaxPerTopic int
	// Up, when set, tells the Redis bus whether Redis is answering: while it is not, Subscribe
	// fails at once instead of waiting for a confirmation that cannot come.
	Up func() bool
}

var (
	// ErrSlowSubscriber ends a subscription whose buffer overflowed.
	ErrSlowSubscriber = errors.New("subscriber too slow: events overflowed its buffer")
	// ErrBusClosed ends subscriptions when their bus closes, and is returned by a closed bus.
	ErrBusClosed = errors.New("pubsub: bus closed")
	// ErrTopicFull refuses a subscriber to a topic that has Options.MaxPerTopic already.
	ErrTopicFull = errors.New("pubsub: the topic has as many subscribers as it may")
)

// Subscription receives one topic's events.
type Subscription struct {
	hub   *hub
	topic string
	ch    chan []byte
	stop  func() bool // unregisters the ctx callback
	err   error       // guarded by hub.mu, like ended
	ended bool
}

// Events returns the topic's events, in order. The channel is closed when the subscription ends;
// Err then says why. Payloads are shared by all subscribers and must not be modified.
func (s *Subscription) Events() <-chan []byte { return s.ch }

// Err reports why the subscription ended: nil while it runs and after Close or the end of its
// ctx, ErrSlowSubscriber after an overflow, ErrBusClosed when the bus closed.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription. Events already buffered stay readable.
func (s *Subscription) Close() { s.hub.remove(s) }

// hub holds the local subscriptions per topic, for both buses.
type hub struct {
	buffer int
	max    int // subscribers per topic; 0: no cap
	// release hears, outside mu, that a topic lost its last subscriber. It must not block:
	// publish, on the Redis receive loop, calls it.
	release func(topic string)

	mu     sync.Mutex
	topics map[string]map[*Subscription]struct{}
	closed bool
}

func newHub(opts Options, release func(string)) *hub {
	if opts.Buffer <= 0 {
		opts.Buffer = 64
	}
	return &hub{buffer: opts.Buffer, max: opts.MaxPerTopic, release: release, topics: map[string]map[*Subscription]struct{}{}}
}

// add subscribes to topic until ctx ends.
func (h *hub) add(ctx context.Context, topic string) (s *Subscription, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s = &Subscription{hub: h, topic: topic, ch: make(chan []byte, h.buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrBusClosed
	}
	set := h.topics[topic]
	if h.max > 0 && len(set) >= h.max {
		return nil, ErrTopicFull
	}
	if set == nil {
		set = map[*Subscription]struct{}{}
		h.topics[topic] = set
	}
	set[s] = struct{}{}
	// No goroutine waits for ctx; the callback runs once it ends, and Close unregisters it.
	s.stop = context.AfterFunc(ctx, s.Close)
	return s, nil
}

// has reports whether topic has local subscribers.
func (h *hub) has(topic string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.topics[topic]) > 0
}

// end ends s with err, under mu, and reports whether its topic lost its last subscriber.
func (h *hub) end(s *Subscription, err error) (last bool) {
	if s.ended {
		return false
	}
	s.ended, s.err = true, err
	close(s.ch)
	set := h.topics[s.topic]
	delete(set, s)
	if len(set) == 0 {
		delete(h.topics, s.topic)
		return true
	}
	return false
}

func (h *hub) remove(s *Subscription) {
	h.mu.Lock()
	last := h.end(s, nil)
	h.mu.Unlock()
	s.stop()
	if last && h.release != nil {
		h.release(s.topic)
	}
}

// publish hands payload to every subscriber of topic without waiting for any: a subscriber
// whose buffer is full is ended instead.
func (h *hub) publish(topic string, payload []byte) {
	var slow []*Subscription
	h.mu.Lock()
	for s := range h.topics[topic] {
		select {
		case s.ch <- payload:
		default:
			slow = append(slow, s)
		}
	}
	last := false
	for _, s := range slow {
		last = h.end(s, ErrSlowSubscriber) || last
	}
	h.mu.Unlock()
	for _, s := range slow {
		s.stop()
	}
	if last && h.release != nil {
		h.release(topic)
	}
}

// close ends every subscription with ErrBusClosed and refuses new ones.
func (h *hub) close() {
	var all []*Subscription
	h.mu.Lock()
	h.closed = true
	for _, set := range h.topics {
		for s := range set {
			h.end(s, ErrBusClosed)
			all = append(all, s)
		}
	}
	h.mu.Unlock()
	for _, s := range all {
		s.stop()
	}
}

func (h *hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}
