// Package pubsub fans messages out from one publisher to many subscribers,
// each with a buffered channel of its own. The publisher never waits for a
// subscriber: one that lets its buffer fill is dropped, its channel closed,
// with an error it can read.
//
// A Hub keeps no state of the publisher's. A publisher that gives each new
// subscriber a snapshot of its state calls Subscribe, and every Publish,
// while it holds its own state lock: then no message is missed or repeated
// between the snapshot and the channel. The Hub never calls back into the
// publisher, so that lock may be held around any Hub method.
package pubsub

import "sync"

// Hub delivers messages of type T to its subscribers. Make one with New.
type Hub[T any] struct {
	slow error // a dropped subscriber's Err

	mu   sync.Mutex
	subs map[*Subscription[T]]struct{}
}

// New returns a Hub whose slow subscribers are dropped with the error slow,
// which the publisher's callers can test for with errors.Is.
func New[T any](slow error) *Hub[T] {
	if slow == nil {
		panic("pubsub: New needs the error a dropped subscriber reads")
	}
	return &Hub[T]{slow: slow, subs: map[*Subscription[T]]struct{}{}}
}

// Subscription delivers a Hub's messages to one subscriber.
type Subscription[T any] struct {
	// C receives every message published after Subscribe, in order. It is
	// closed by Close, by the Hub's CloseAll, or when the subscriber falls
	// behind.
	C <-chan T

	c   chan T
	h   *Hub[T]
	err error // set, under h.mu, before c is closed
}

// Subscribe adds a subscriber whose channel buffers up to buffer messages
// (at least 1).
func (h *Hub[T]) Subscribe(buffer int) *Subscription[T] {
	c := make(chan T, max(buffer, 1))
	s := &Subscription[T]{C: c, c: c, h: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[s] = struct{}{}
	return s
}

// Publish sends msg to every subscriber without waiting. A subscriber whose
// buffer is full is dropped: its C is closed and its Err is the Hub's slow
// error. Publish returns how many it dropped.
func (h *Hub[T]) Publish(msg T) (dropped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- msg:
		default:
			h.dropLocked(s, h.slow)
			dropped++
		}
	}
	return dropped
}

// CloseAll ends every subscription, as a publisher does when it stops; Err
// is nil for each. Later subscriptions work as before.
func (h *Hub[T]) CloseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.dropLocked(s, nil)
	}
}

func (h *Hub[T]) dropLocked(s *Subscription[T], err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.c)
}

// Close ends the subscription and closes C. Closing twice, or after the
// subscription was dropped, does nothing.
func (s *Subscription[T]) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.dropLocked(s, nil)
}

// Err says why C was closed: nil after Close or CloseAll, the Hub's slow
// error when the subscriber fell behind. It is nil while C is open.
func (s *Subscription[T]) Err() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.err
}
