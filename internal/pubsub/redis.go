package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agora/agora/internal/apperr"
)

// confirmTimeout bounds how long Subscribe waits for Redis to confirm a new topic, so that an
// outage fails subscribers instead of leaving them waiting for it to end.
const confirmTimeout = 10 * time.Second

// Redis is a Bus shared by every replica using the same Redis. Each bus holds one pub/sub
// connection: Redis channel prefix+topic is subscribed while the topic has local subscribers.
//
// go-redis notices a dropped connection at once when a read fails, or by an unanswered ping
// within seconds when idle; it then reconnects and resubscribes every channel, retrying while
// Redis is down. Events published while it is disconnected are lost (Redis pub/sub keeps
// nothing); subscriptions stay open and receive what is published after the reconnect.
type Redis struct {
	hub    *hub
	client redis.UniversalClient
	ps     *redis.PubSub
	prefix string
	up     func() bool

	mu        sync.Mutex           // guards what follows; never held while talking to Redis
	topics    map[string]*remote   // topics wanted from Redis: subscribed or about to be
	dirty     map[string]struct{}  // topics whose local subscribers changed since the last sync
	confirms  map[string][]*remote // marker channel → the topics it confirms
	confirmed []string             // marker channels to unsubscribe
	seq       int

	wake      chan struct{} // asks the sync goroutine to run; never blocks the sender
	quit      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ Bus = (*Redis)(nil)

// remote is a topic's subscription in Redis.
type remote struct {
	topic string
	sent  bool          // SUBSCRIBE was sent
	ready chan struct{} // closed once confirmed or failed
	done  bool
	err   error // why it failed, set before ready is closed
}

// finish releases the topic's waiters, under Redis.mu.
func (r *remote) finish(err error) {
	if !r.done {
		r.done, r.err = true, err
		close(r.ready)
	}
}

// NewRedis returns a Bus on Redis channels named prefix+topic.
func NewRedis(client redis.UniversalClient, prefix string, opts Options) *Redis {
	b := &Redis{
		client:   client,
		prefix:   prefix,
		up:       opts.Up,
		topics:   map[string]*remote{},
		dirty:    map[string]struct{}{},
		confirms: map[string][]*remote{},
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
	}
	b.hub = newHub(opts, b.changed)
	b.ps = client.Subscribe(context.Background())
	// Subscription replies are the confirmations Subscribe waits for. receive never blocks for
	// long, so go-redis never drops a message for want of room in msgs.
	msgs := b.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	b.wg.Add(2)
	go b.receive(msgs)
	go b.syncLoop()
	return b
}

// Publish implements Bus.
func (b *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	if b.hub.isClosed() {
		return ErrBusClosed
	}
	if err := b.client.Publish(ctx, b.prefix+topic, payload).Err(); err != nil {
		return fmt.Errorf("pubsub: publish to %s: %w", topic, err)
	}
	return nil
}

// Subscribe implements Bus. It returns once Redis has confirmed the topic's channel, so that
// nothing published after it returns is missed, or fails as apperr.Unavailable when Redis
// cannot be reached or does not confirm within confirmTimeout.
func (b *Redis) Subscribe(ctx context.Context, topic string) (*Subscription, error) {
	if b.up != nil && !b.up() {
		return nil, unavailable(errNotAnswering)
	}
	s, err := b.hub.add(ctx, topic)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	r := b.topics[topic]
	first := r == nil
	if first {
		r = &remote{topic: topic, ready: make(chan struct{})}
		b.topics[topic] = r
		b.dirty[topic] = struct{}{}
	}
	b.mu.Unlock()
	if first {
		b.poke()
	}

	timer := time.NewTimer(confirmTimeout)
	defer timer.Stop()
	select {
	case <-r.ready:
		if r.err != nil {
			s.Close()
			return nil, unavailable(r.err)
		}
		return s, nil // if s ended meanwhile, its Events are closed and Err says why
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	case <-b.quit:
		s.Close()
		return nil, ErrBusClosed
	case <-timer.C:
		s.Close()
		return nil, unavailable(errUnconfirmed)
	}
}

var (
	errUnconfirmed  = errors.New("pubsub: redis did not confirm the subscription in time")
	errNotAnswering = errors.New("pubsub: redis is not answering")
)

func unavailable(err error) error {
	return &apperr.Error{Kind: apperr.Unavailable, Message: "live updates are unavailable", Err: err}
}

// Close implements Bus.
func (b *Redis) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.quit)
		b.hub.close()
		err = b.ps.Close() // closes msgs, which ends receive
		b.wg.Wait()
	})
	return err
}

// changed is the hub's release hook: it must not block, as receive may be calling it.
func (b *Redis) changed(topic string) {
	b.mu.Lock()
	b.dirty[topic] = struct{}{}
	b.mu.Unlock()
	b.poke()
}

func (b *Redis) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// receive hands messages to the hub and confirmations to their waiters. Neither blocks.
func (b *Redis) receive(msgs <-chan any) {
	defer b.wg.Done()
	for m := range msgs {
		switch m := m.(type) {
		case *redis.Message:
			if topic, ok := strings.CutPrefix(m.Channel, b.prefix); ok {
				b.hub.publish(topic, []byte(m.Payload))
			}
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.confirm(m.Channel)
			}
		}
	}
}

// syncLoop is the one goroutine that sends SUBSCRIBE and UNSUBSCRIBE, so they reach Redis in the
// order the local subscribers came and went.
func (b *Redis) syncLoop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.wake:
			b.sync()
		case <-b.quit:
			return
		}
	}
}

// sync subscribes the topics that gained local subscribers and unsubscribes those that lost them.
//
// A SUBSCRIBE is confirmed by a reply per channel, but replies cannot tell which SUBSCRIBE of a
// channel they answer when it was unsubscribed and subscribed again. So each batch of topics is
// followed, in the same command, by a marker channel never used before: its reply means Redis
// has run the whole command. go-redis keeps the marker in the channels it resubscribes after a
// reconnect, so a reply lost with a connection comes again on the next.
func (b *Redis) sync() {
	var sub, unsub []string
	var batch []*remote
	b.mu.Lock()
	for topic := range b.dirty {
		r := b.topics[topic]
		switch {
		case r == nil:
		case !b.hub.has(topic):
			delete(b.topics, topic)
			if r.sent {
				unsub = append(unsub, b.prefix+topic)
			}
			r.finish(nil) // its waiters, if any, have ended
		case !r.sent:
			r.sent = true
			sub = append(sub, b.prefix+topic)
			batch = append(batch, r)
		}
	}
	clear(b.dirty)
	unsub = append(unsub, b.confirmed...)
	b.confirmed = nil
	var marker string
	if len(sub) > 0 {
		b.seq++
		marker = b.prefix + "\x00confirm:" + strconv.Itoa(b.seq)
		b.confirms[marker] = batch
		sub = append(sub, marker)
	}
	b.mu.Unlock()

	ctx := context.Background()
	if len(unsub) > 0 {
		// Even when the write fails, go-redis forgets the channels and leaves them out when it
		// resubscribes after reconnecting.
		_ = b.ps.Unsubscribe(ctx, unsub...)
	}
	if len(sub) > 0 {
		if err := b.ps.Subscribe(ctx, sub...); err != nil {
			// go-redis may have reconnected without these channels: fail their waiters (new
			// subscribers will try again) and make it forget them.
			b.mu.Lock()
			if rs, ok := b.confirms[marker]; ok {
				delete(b.confirms, marker)
				for _, r := range rs {
					if b.topics[r.topic] == r {
						delete(b.topics, r.topic)
					}
					r.finish(err)
				}
			}
			b.mu.Unlock()
			_ = b.ps.Unsubscribe(ctx, sub...)
		}
	}
}

// confirm releases the waiters of the topics a marker channel confirms.
func (b *Redis) confirm(channel string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rs, ok := b.confirms[channel]
	if !ok {
		return
	}
	delete(b.confirms, channel)
	for _, r := range rs {
		r.finish(nil)
	}
	b.confirmed = append(b.confirmed, channel)
	b.poke()
}
