package supervisor

import (
	"errors"
	"sync"
	"time"
)

// ErrSlowSubscriber ends a Subscription whose reader fell more than its
// buffer behind: the supervisor never waits for a reader.
var ErrSlowSubscriber = errors.New("subscriber fell too far behind and was disconnected")

// Event is one status change, stamped with the time it was published.
type Event struct {
	At     time.Time
	Status Status
}

// Subscription receives every status change in order through a bounded
// queue. C is closed when the subscription ends: Err then says why (nil when
// the supervisor stopped, ErrSlowSubscriber when the reader fell behind).
type Subscription struct {
	C <-chan Event

	hub *hub
	ch  chan Event
	err error // guarded by hub.mu
}

// Err reports why C was closed. Call it only after C is closed.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription; C is closed. Safe to call more than once.
func (s *Subscription) Close() { s.hub.remove(s, nil) }

// hub holds the current status and fans changes out. It is the only state
// shared between the supervisor goroutine (which publishes) and readers.
type hub struct {
	mu      sync.Mutex
	cur     Status
	subs    map[*Subscription]struct{}
	pokes   map[chan struct{}]struct{}
	stopped bool // final status published; no more subscriptions
}

func newHub(initial Status) *hub {
	return &hub{cur: initial, subs: map[*Subscription]struct{}{}, pokes: map[chan struct{}]struct{}{}}
}

func (h *hub) status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// publish makes st current and hands it to every reader without blocking.
func (h *hub) publish(st Status, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cur = st
	ev := Event{At: at, Status: st}
	for s := range h.subs {
		select {
		case s.ch <- ev:
		default:
			h.removeLocked(s, ErrSlowSubscriber)
		}
	}
	for p := range h.pokes {
		select {
		case p <- struct{}{}:
		default: // a poke is already pending: the reader will see the latest anyway
		}
	}
}

// subscribe registers a reader whose first event is the current status,
// stamped with its Since.
func (h *hub) subscribe(buffer int) *Subscription {
	buffer = max(buffer, 1)
	s := &Subscription{hub: h, ch: make(chan Event, buffer+1)}
	s.C = s.ch
	h.mu.Lock()
	defer h.mu.Unlock()
	at := h.cur.Since
	if at.IsZero() {
		at = time.Now()
	}
	s.ch <- Event{At: at, Status: h.cur}
	if h.stopped {
		close(s.ch)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

func (h *hub) remove(s *Subscription, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(s, err)
}

func (h *hub) removeLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.ch)
}

// changes returns a channel that receives a token whenever the status
// changes; several changes may collapse into one token (for the tray, where
// only the latest status matters).
func (h *hub) changes() (<-chan struct{}, func()) {
	p := make(chan struct{}, 1)
	h.mu.Lock()
	h.pokes[p] = struct{}{}
	h.mu.Unlock()
	return p, func() {
		h.mu.Lock()
		delete(h.pokes, p)
		h.mu.Unlock()
	}
}

// close ends every subscription after the final status was published.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for s := range h.subs {
		h.removeLocked(s, nil)
	}
}
