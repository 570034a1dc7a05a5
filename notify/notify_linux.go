package notify

import (
	"context"
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/sessionbus"
	"slices"
	"strings"

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
// re-registration watcher (docs/desktop.md). We add no match rules, so no signal
// reaches this connection at all.
type dbusBackend struct {
	cfg  backendConfig
	conn *dbus.Conn // nil until the first send, and after it died

	capsAsked bool // GetCapabilities was tried on conn
	markup    bool // the server parses body markup: escape our text

	lastID uint32 // the id of our last notification, for replaces_id
}

func newBackend(cfg backendConfig) backend { return &dbusBackend{cfg: cfg} }

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
		}
	}
	body := m.Body
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
	err = obj.CallWithContext(ctx, notificationsIface+".Notify", 0,
		appName, b.lastID, b.cfg.icon, m.Summary, body, []string{}, hints, expire,
	).Store(&id)
	if err != nil {
		if !conn.Connected() {
			b.close() // reconnect at the next send
		}
		return fmt.Errorf("org.freedesktop.Notifications.Notify: %w", err)
	}
	b.lastID = id
	return nil
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
	conn, err := dbus.Dial(addr)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", errNoSessionBus, addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err = conn.Auth(nil)
	if err == nil {
		err = conn.Hello()
	}
	if !stop() {
		err = errors.Join(ctx.Err(), err)
	}
	if err != nil {
		conn.Close()
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
	b.capsAsked = false
}

// escapeMarkup keeps a server that parses body markup from mangling text
// such as "<unk>" or "a & b" in a last error.
var escapeMarkup = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
