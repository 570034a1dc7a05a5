package supervisor

import "sync"

// mailbox queues messages for the Run goroutine. Posting never blocks, so a
// tray click or a CLI request can never stall on a supervisor that is busy
// stopping a child; the Run goroutine drains it whenever ready fires.
type mailbox struct {
	mu      sync.Mutex
	pending []message
	ready   chan struct{} // cap 1: a token means "pending may be non-empty"
}

func newMailbox() *mailbox { return &mailbox{ready: make(chan struct{}, 1)} }

func (m *mailbox) post(msg message) {
	m.mu.Lock()
	m.pending = append(m.pending, msg)
	m.mu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// take returns and clears everything posted so far.
func (m *mailbox) take() []message {
	m.mu.Lock()
	defer m.mu.Unlock()
	msgs := m.pending
	m.pending = nil
	return msgs
}
