package status

import (
	"errors"
	"sync"
	"time"
)

// ErrSlowSubscriber ends a Subscription whose reader fell more than its
// buffer behind: the publisher never waits for a reader.
var ErrSlowSubscriber = errors.New("subscriber fell too far behind and was disconnected")

// Event is one status change, stamped with the time it was published.
type Event struct {
	At     time.Time
	Status Status
}

// Subscription receives every status change in order through a bounded
// queue. C is closed when the subscription ends: Err then says why (nil when
// the hub was closed, ErrSlowSubscriber when the reader fell behind).
type Subscription struct {
	C <-chan Event

	hub *Hub
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

// Hub holds the current status and fans changes out: the one piece of
// state shared between the goroutine that publishes (the supervisor) and
// everyone who reads (the tray, notifications, the control socket). The
// publisher never waits for a reader.
type Hub struct {
	mu      sync.Mutex
	cur     Status
	subs    map[*Subscription]struct{}
	pokes   map[chan struct{}]struct{}
	stopped bool // final status published; no more subscriptions
	cutOff  int  // subscriptions ended for falling behind
}

// NewHub returns a hub whose current status is initial, bounded.
func NewHub(initial Status) *Hub {
	return &Hub{cur: initial.Bounded(), subs: map[*Subscription]struct{}{}, pokes: map[chan struct{}]struct{}{}}
}

// Status returns the current status.
func (h *Hub) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// Publish makes st current and hands it to every reader without blocking;
// a subscriber whose queue is full is cut off with ErrSlowSubscriber. What
// readers get is st.Bounded(): no reader has to guard against a field of
// megabytes.
func (h *Hub) Publish(st Status, at time.Time) {
	st = st.Bounded()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cur = st
	ev := Event{At: at, Status: st}
	for s := range h.subs {
		select {
		case s.ch <- ev:
		default:
			h.cutOff++
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

// Subscribe registers a reader whose first event is the current status,
// stamped with its Since. A reader that falls more than buffer events
// behind is cut off.
func (h *Hub) Subscribe(buffer int) *Subscription {
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

func (h *Hub) remove(s *Subscription, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(s, err)
}

func (h *Hub) removeLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.ch)
}

// Changes returns a channel that receives a token whenever the status
// changes; several changes may collapse into one token (for the tray, where
// only the latest status matters).
func (h *Hub) Changes() (<-chan struct{}, func()) {
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

// Close ends every subscription; call it after the final status was
// published. Later subscribers get the final status and a closed channel.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for s := range h.subs {
		h.removeLocked(s, nil)
	}
}

// Subscribers reports how many subscriptions are open, and how many were
// cut off so far for falling behind.
func (h *Hub) Subscribers() (open, cutOff int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs), h.cutOff
}
