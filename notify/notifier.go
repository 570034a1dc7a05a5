package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// appName names us to the notification server (and, on Linux, matches the
// desktop entry ocm-tray.desktop).
const appName = "ocm-tray"

// DefaultSendTimeout bounds one delivery, connecting included.
const DefaultSendTimeout = 2 * time.Second

// Notifier sends a desktop notification for the status changes the user's
// level asks for. Build it with New, then call Run once; SetLevel is safe
// from any goroutine.
type Notifier struct {
	mu    sync.Mutex
	level status.NotifyLevel

	log      *slog.Logger
	timeout  time.Duration
	handlers Handlers
	cfg      backendConfig
}

// Handlers are what a notification's buttons do (Message.Actions): each is
// called when the user presses that button on the agent's own
// notification, on a goroutine of the notifier, and must not block: post a
// message or start a program, and return. An action whose handler is nil
// is not offered.
type Handlers struct {
	Restart, OpenLog, OpenSettings func()
}

func (h Handlers) of(key string) func() {
	switch key {
	case ActionRestart:
		return h.Restart
	case ActionOpenLog:
		return h.OpenLog
	case ActionOpenSettings:
		return h.OpenSettings
	}
	return nil
}

// backendConfig is what the per-OS sender needs.
type backendConfig struct {
	busAddress string // Linux: "" means the session bus of the environment
	icon       string
	log        *slog.Logger
	// onAction runs the handler of an action the user invoked on one of
	// our notifications; nil when no handler is set (no buttons offered).
	onAction func(key string)
}

// backend delivers messages. It is used by the sender goroutine only.
type backend interface {
	// send delivers m or gives up when ctx is done.
	send(ctx context.Context, m Message) error
	// close releases what send opened; send is not called afterwards.
	close()
}

// Option adjusts a Notifier at construction.
type Option func(*Notifier)

// WithBusAddress sets the D-Bus address notifications go to on Linux
// (default: DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus). Other
// systems ignore it.
func WithBusAddress(addr string) Option { return func(n *Notifier) { n.cfg.busAddress = addr } }

// WithSendTimeout bounds each delivery (default DefaultSendTimeout).
func WithSendTimeout(d time.Duration) Option {
	return func(n *Notifier) {
		if d > 0 {
			n.timeout = d
		}
	}
}

// WithIcon sets the notification icon: on Linux an icon-theme name or an
// absolute path (default "ocm-tray", the name the package installs), on
// Windows and macOS the path of a PNG file (default none).
func WithIcon(icon string) Option { return func(n *Notifier) { n.cfg.icon = icon } }

// WithHandlers sets what the notifications' buttons do; without it, or for
// a nil handler, the text says the command instead.
func WithHandlers(h Handlers) Option { return func(n *Notifier) { n.handlers = h } }

// New builds a Notifier at level. log may be nil (discard). It starts
// nothing and opens nothing: Run does.
func New(level status.NotifyLevel, log *slog.Logger, opts ...Option) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{
		level:   level,
		log:     log,
		timeout: DefaultSendTimeout,
		cfg:     backendConfig{icon: defaultIcon},
	}
	for _, o := range opts {
		o(n)
	}
	n.cfg.log = n.log
	if n.handlers.Restart != nil || n.handlers.OpenLog != nil || n.handlers.OpenSettings != nil {
		n.cfg.onAction = n.invoke
	}
	return n
}

// invoke runs the handler of an action, never letting a panic in it end
// the notifier.
func (n *Notifier) invoke(key string) {
	f := n.handlers.of(key)
	if f == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			n.log.Error("notification action failed", "action", key, "panic", r)
		}
	}()
	n.log.Debug("notification action", "action", key)
	f()
}

// offered keeps the actions of m that have a handler as buttons; the
// others become text (what they say Instead).
func (n *Notifier) offered(m Message) Message {
	var keep []Action
	for _, a := range m.Actions {
		if n.handlers.of(a.Key) != nil {
			keep = append(keep, a)
		} else {
			m.Body = joinLines(m.Body, a.Instead)
		}
	}
	m.Actions = keep
	return m
}

// SetLevel changes the level from the next event on (a settings reload).
func (n *Notifier) SetLevel(l status.NotifyLevel) {
	n.mu.Lock()
	n.level = l
	n.mu.Unlock()
}

func (n *Notifier) currentLevel() status.NotifyLevel {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.level
}

// Run consumes every event in order, decides with ShouldNotify and Compose,
// and sends. It never waits for a delivery: a hung notification server
// delays notifications, not the events channel. Run returns nil when ctx is
// done (dropping what is not delivered yet) or when events is closed (after
// delivering what is pending, within one send timeout). Every goroutine and
// connection it opened is gone by then, with one exception on Windows and
// macOS: beeep takes no context, so a beeep call stuck in the OS past its
// timeout is abandoned (at most one at a time) and ends when the OS returns.
func (n *Notifier) Run(ctx context.Context, events <-chan status.Event) error {
	q := newQueue()
	sendCtx, cancelSend := context.WithCancel(ctx)
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		n.sendLoop(sendCtx, q, newBackend(n.cfg))
	}()
	defer func() {
		cancelSend()
		<-senderDone
	}()

	var d decider
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				n.flush(q, senderDone)
				return nil
			}
			if m, ok := d.step(n.currentLevel(), ev.Status); ok {
				q.put(n.offered(m))
			}
		}
	}
}

// decider is the history Run keeps between events: the previous status and
// whether a failure has been seen since the child last ran.
type decider struct {
	prev         status.Status
	afterFailure bool
}

// step decides on next and remembers it.
func (d *decider) step(level status.NotifyLevel, next status.Status) (Message, bool) {
	var m Message
	ok := ShouldNotify(level, d.prev, next, d.afterFailure)
	if ok {
		m = Compose(d.prev, next)
	} else if failed := newlyFailed(d.prev, next); len(failed) > 0 && level != status.NotifyOff {
		m, ok = ComposeModelFailure(failed[0]), true
	}
	d.afterFailure = (d.afterFailure || IsFailure(next)) && next.State != status.Running
	d.prev = next
	return m, ok
}

// flush lets the sender deliver what is pending, for at most one send
// timeout; the deferred cancel in Run ends it after that.
func (n *Notifier) flush(q *queue, senderDone <-chan struct{}) {
	q.close()
	t := time.NewTimer(n.timeout)
	defer t.Stop()
	select {
	case <-senderDone:
	case <-t.C:
		n.log.Debug("notification still pending at shutdown; dropped")
	}
}

// sendLoop is the sender goroutine: it delivers one message at a time, each
// bounded by the send timeout, until ctx is done or the queue is closed and
// empty.
func (n *Notifier) sendLoop(ctx context.Context, q *queue, b backend) {
	defer b.close()
	failing := false
	for {
		m, ok, closed := q.take()
		if !ok {
			if closed {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-q.ready:
			}
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, n.timeout)
		err := b.send(sctx, m)
		cancel()
		switch {
		case err == nil && failing:
			failing = false
			n.log.Info("desktop notifications work again")
		case err != nil && ctx.Err() != nil:
			return // shutting down; not a failure of the server
		case err != nil && !failing:
			failing = true
			n.log.Warn("desktop notification not delivered; further failures are logged at debug level until one succeeds",
				"summary", m.Summary, "err", err)
		case err != nil:
			n.log.Debug("desktop notification not delivered", "summary", m.Summary, "err", err)
		}
	}
}

// Once delivers a single message outside any Notifier, bounded by
// DefaultSendTimeout, and reports whether it was shown. A second agent uses
// it to say "already running" before it exits.
func Once(ctx context.Context, m Message, opts ...Option) error {
	n := New(status.NotifyAll, nil, opts...)
	b := newBackend(n.cfg)
	defer b.close()
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	return b.send(ctx, m)
}
