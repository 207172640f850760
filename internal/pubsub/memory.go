package pubsub

import (
	"bytes"
	"context"
)

// Memory is a Bus in this process, for a single replica.
type Memory struct{ hub *hub }

var _ Bus = (*Memory)(nil)

// NewMemory returns an in-process Bus.
func NewMemory(opts Options) *Memory { return &Memory{hub: newHub(opts, nil)} }

// Publish implements Bus.
func (m *Memory) Publish(_ context.Context, topic string, payload []byte) error {
	if m.hub.isClosed() {
		return ErrBusClosed
	}
	// A copy, so that the publisher may reuse its buffer, as it may with Redis.
	m.hub.publish(topic, bytes.Clone(payload))
	return nil
}

// Subscribe implements Bus.
func (m *Memory) Subscribe(ctx context.Context, topic string) (*Subscription, error) {
	return m.hub.add(ctx, topic)
}

// Close implements Bus.
func (m *Memory) Close() error {
	m.hub.close()
	return nil
}
