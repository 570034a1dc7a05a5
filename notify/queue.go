package notify

import "sync"

// queue hands messages from Run's event loop to the sender goroutine.
// put never blocks; when the sender falls behind, pending messages coalesce:
//
//   - a critical message replaces everything pending (it is the newest, and
//     the most important);
//   - a non-critical message replaces a pending non-critical one, but queues
//     behind a pending critical one rather than drop it.
//
// So at most two messages wait: [critical, newer non-critical] or [one].
// Both go out in order, and each replaces the last on screen, so the user
// ends up seeing the newest status without ever missing a critical one.
type queue struct {
	mu      sync.Mutex
	pending []Message
	closed  bool          // no more puts; the sender drains and ends
	ready   chan struct{} // cap 1: a token means "look again"
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) put(m Message) {
	q.mu.Lock()
	switch {
	case m.Critical, len(q.pending) == 0 || !q.pending[0].Critical:
		q.pending = []Message{m}
	default:
		q.pending = []Message{q.pending[0], m}
	}
	q.mu.Unlock()
	q.poke()
}

// close tells the sender to deliver what is pending and then end.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.poke()
}

func (q *queue) poke() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take removes the oldest pending message. ok is false when none is
// pending; closed then says whether any more can come.
func (q *queue) take() (m Message, ok, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		return Message{}, false, q.closed
	}
	m = q.pending[0]
	q.pending = q.pending[1:]
	return m, true, q.closed
}
