package notify

import (
	"context"
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/sessionbus"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// defaultIcon is the icon-theme name packaging/linux installs.
const defaultIcon = "ocm-tray"

// errNoSessionBus means there is no session bus to send notifications to.
var errNoSessionBus = errors.New("no D-Bus session bus")

const (
	notificationsName  = "org.freedesktop.Notifications"
	notificationsPath  = dbus.ObjectPath("/org/freedesktop/Notifications")
	notificationsIface = "org.freedesktop.Notifications"

	urgencyNormal   byte = 1
	urgencyCritical byte = 2

	expireDefault int32 = -1 // the server decides
	expireNever   int32 = 0  // stays until the user dismisses it
)

// dbusBackend talks to org.freedesktop.Notifications over a private
// connection of its own. Never dbus.SessionBus(): that connection is
// systray's, and a NotificationClosed signal delivered on it ends systray's
// re-registration watcher (docs/desktop.md). Only ActionInvoked is matched
// here, and only when the notifications have buttons.
type dbusBackend struct {
	cfg  backendConfig
	conn *dbus.Conn // nil until the first send, and after it died

	capsAsked bool // GetCapabilities was tried on conn
	markup    bool // the server parses body markup: escape our text
	buttons   bool // the server shows actions (and we listen for them)

	lastID uint32 // the id of our last notification, for replaces_id

	ours      *ownIDs       // ids of our notifications, for the signal goroutine
	listening chan struct{} // closed when the signal goroutine ends; nil: none
}

// ownIDs are the ids of the notifications this agent sent: an
// ActionInvoked for any other id is another program's button.
type ownIDs struct {
	mu  sync.Mutex
	ids []uint32 // the most recent last; a server may reuse or renew ids
	// sending is closed when the Notify in flight has its answer; nil when
	// none is. The server answers Notify before anyone can press the new
	// notification's button, but its answer and the button's signal reach
	// two different goroutines of ours.
	sending chan struct{}
}

// begin marks a Notify in flight.
func (o *ownIDs) begin() {
	o.mu.Lock()
	o.sending = make(chan struct{})
	o.mu.Unlock()
}

// end records the id the server gave (when ok) and ends the flight.
func (o *ownIDs) end(id uint32, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ok && (len(o.ids) == 0 || o.ids[len(o.ids)-1] != id) {
		o.ids = append(o.ids, id)
		if len(o.ids) > 8 { // replaced notifications are gone from the screen
			o.ids = o.ids[1:]
		}
	}
	close(o.sending)
	o.sending = nil
}

// has reports whether id is one of ours, waiting for a Notify in flight
// (within a send timeout) when id is not known yet.
func (o *ownIDs) has(id uint32) bool {
	o.mu.Lock()
	known, wait := slices.Contains(o.ids, id), o.sending
	o.mu.Unlock()
	if known || wait == nil {
		return known
	}
	t := time.NewTimer(DefaultSendTimeout)
	defer t.Stop()
	select {
	case <-wait:
	case <-t.C:
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Contains(o.ids, id)
}

func newBackend(cfg backendConfig) backend { return &dbusBackend{cfg: cfg, ours: &ownIDs{}} }

func (b *dbusBackend) send(ctx context.Context, m Message) error {
	conn, err := b.connect(ctx)
	if err != nil {
		return err
	}
	obj := conn.Object(notificationsName, notificationsPath)
	if !b.capsAsked {
		b.capsAsked = true
		b.markup = true // what most servers do; escaping is then the safe guess
		var caps []string
		if err := obj.CallWithContext(ctx, notificationsIface+".GetCapabilities", 0).Store(&caps); err == nil {
			b.markup = slices.Contains(caps, "body-markup")
			b.buttons = slices.Contains(caps, "actions") && b.cfg.onAction != nil && b.listen(ctx, conn)
		}
	}
	body := m.Body
	var actions []string
	if b.buttons {
		for _, a := range m.Actions {
			actions = append(actions, a.Key, a.Label)
		}
	} else {
		body = m.TextBody()
	}
	if actions == nil {
		actions = []string{}
	}
	if b.markup {
		body = escapeMarkup(body)
	}
	urgency, expire := urgencyNormal, expireDefault
	if m.Critical {
		urgency, expire = urgencyCritical, expireNever
	}
	hints := map[string]dbus.Variant{
		"urgency":       dbus.MakeVariant(urgency),
		"desktop-entry": dbus.MakeVariant(appName),
	}
	var id uint32
	b.ours.begin()
	err = obj.CallWithContext(ctx, notificationsIface+".Notify", 0,
		appName, b.lastID, b.cfg.icon, m.Summary, body, actions, hints, expire,
	).Store(&id)
	b.ours.end(id, err == nil)
	if err != nil {
		if !conn.Connected() {
			b.close() // reconnect at the next send
		}
		return fmt.Errorf("org.freedesktop.Notifications.Notify: %w", err)
	}
	b.lastID = id
	return nil
}

// listen subscribes conn to ActionInvoked and starts the goroutine that
// runs the handler of each action invoked on one of our notifications. It
// reports whether buttons can be offered: without the subscription a
// pressed button would do nothing.
func (b *dbusBackend) listen(ctx context.Context, conn *dbus.Conn) bool {
	// Only the notification server's signals: no other client on the bus
	// can press our Restart button.
	err := conn.AddMatchSignalContext(ctx,
		dbus.WithMatchSender(notificationsName),
		dbus.WithMatchObjectPath(notificationsPath),
		dbus.WithMatchInterface(notificationsIface),
		dbus.WithMatchMember("ActionInvoked"))
	if err != nil {
		b.cfg.log.Debug("cannot listen for notification actions; the text says the commands instead", "err", err)
		return false
	}
	sigs := make(chan *dbus.Signal, 16)
	conn.Signal(sigs)
	done := make(chan struct{})
	b.listening = done
	ours, onAction := b.ours, b.cfg.onAction
	go func() {
		defer close(done)
		var server string // the server's unique name, once looked up
		// Ends when the connection closes: godbus closes sigs then.
		for sig := range sigs {
			if sig.Name != notificationsIface+".ActionInvoked" || len(sig.Body) != 2 {
				continue
			}
			id, ok1 := sig.Body[0].(uint32)
			key, ok2 := sig.Body[1].(string)
			if !ok1 || !ok2 || !ours.has(id) {
				continue
			}
			// A signal addressed to us passes every match rule: check that
			// the notification server sent it, not just any client.
			if sig.Sender != server {
				server = nameOwner(conn, notificationsName)
			}
			if sig.Sender == server {
				onAction(key)
			}
		}
	}()
	return true
}

// nameOwner is the unique name that owns name, or "" (within a bound: this
// runs on the signal goroutine).
func nameOwner(conn *dbus.Conn, name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultSendTimeout)
	defer cancel()
	var owner string
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner); err != nil {
		return ""
	}
	return owner
}

// connect returns the open connection or opens one. Auth and Hello take no
// context; closing the connection is what unblocks them, so a bus that
// accepts but never answers costs one send timeout, not a hang.
func (b *dbusBackend) connect(ctx context.Context) (*dbus.Conn, error) {
	if b.conn != nil && b.conn.Connected() {
		return b.conn, nil
	}
	b.close()
	addr := b.cfg.busAddress
	if addr == "" {
		var err error
		if addr, err = sessionbus.Address(); err != nil {
			return nil, fmt.Errorf("%w: %w", errNoSessionBus, err)
		}
	}
	conn, err := sessionbus.Dial(ctx, addr)
	var dialErr *sessionbus.DialError
	switch {
	case errors.As(err, &dialErr):
		return nil, fmt.Errorf("%w at %s: %w", errNoSessionBus, addr, err)
	case err != nil:
		return nil, fmt.Errorf("connecting to the session bus at %s: %w", addr, err)
	}
	b.conn = conn
	return conn, nil
}

func (b *dbusBackend) close() {
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
	}
	if b.listening != nil {
		<-b.listening // a handler does not block, so this is short
		b.listening = nil
	}
	b.capsAsked, b.buttons = false, false
}

// escapeMarkup keeps a server that parses body markup from mangling text
// such as "<unk>" or "a & b" in a last error.
var escapeMarkup = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
