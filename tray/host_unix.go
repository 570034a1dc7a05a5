//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"context"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/sessionbus"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = "/StatusNotifierWatcher"
	watcherIface = "org.kde.StatusNotifierWatcher"
	itemPath     = "/StatusNotifierItem" // where systray exports the item
)

// Timeouts of the bus calls made here; a hung bus must not hang the tray.
const (
	connectTimeout = 5 * time.Second
	callTimeout    = 2 * time.Second
	// registerGrace is how long after a tray host appears we let systray
	// register the item itself before we do it.
	registerGrace = 500 * time.Millisecond
)

// dbusHost watches the tray host over a private connection: signals on
// systray's shared connection would reach systray's own watcher goroutine,
// which quits on any signal it does not expect.
type dbusHost struct {
	log    *slog.Logger
	priv   *dbus.Conn // ours
	shared *dbus.Conn // systray's (godbus's shared session connection)
	ch     chan hostEvent
	stop   chan struct{}
	wg     sync.WaitGroup
	cancel context.CancelFunc
}

func openHost(ctx context.Context, log *slog.Logger) (host, error) {
	addr, err := sessionbus.Address()
	if err != nil {
		return nil, err
	}
	connCtx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(connectTimeout, cancel)
	priv, err := dbus.Connect(addr, dbus.WithContext(connCtx))
	timedOut := !timer.Stop()
	if err != nil {
		cancel()
		if timedOut {
			err = fmt.Errorf("no answer within %v", connectTimeout)
		}
		return nil, fmt.Errorf("cannot reach the D-Bus session bus at %s: %w", addr, err)
	}
	fail := func(err error) (host, error) {
		priv.Close()
		cancel()
		return nil, err
	}
	sigs := make(chan *dbus.Signal, 64)
	priv.Signal(sigs)
	if err := priv.AddMatchSignal(
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, watcherName),
	); err != nil {
		return fail(fmt.Errorf("D-Bus session bus: %w", err))
	}
	if err := priv.AddMatchSignal(
		dbus.WithMatchInterface(watcherIface),
		dbus.WithMatchMember("StatusNotifierItemRegistered"),
	); err != nil {
		return fail(fmt.Errorf("D-Bus session bus: %w", err))
	}
	// Connect systray's shared connection now, to the address checked
	// above: systray then reuses it instead of connecting (or launching a
	// bus) itself, and never ends up with none (it panics at Quit then).
	shared, err := dbus.SessionBus()
	if err != nil {
		return fail(fmt.Errorf("cannot connect to the D-Bus session bus at %s: %w", addr, err))
	}
	h := &dbusHost{log: log, priv: priv, shared: shared, ch: make(chan hostEvent, 1), stop: make(chan struct{}), cancel: cancel}
	if !h.watcherPresent() {
		log.Warn("no tray icon yet: no tray host (StatusNotifierWatcher) on the session bus. " +
			"On GNOME install the AppIndicator/KStatusNotifierItem support extension " +
			"(gnome-shell-extension-appindicator), or run with --headless. " +
			"llama-server is still supervised; the icon appears when a tray host starts")
	}
	h.wg.Add(1)
	go h.watch(sigs)
	return h, nil
}

func (h *dbusHost) events() <-chan hostEvent { return h.ch }

func (h *dbusHost) alive() bool { return h.shared.Connected() }

func (h *dbusHost) close() {
	close(h.stop)
	h.priv.Close()
	h.cancel()
	h.wg.Wait()
}

func (h *dbusHost) watcherPresent() bool {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var has bool
	err := h.priv.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has)
	return err == nil && has
}

// ours reports whether a service string from the watcher names our item.
// Watchers write it as "<bus name>" or "<bus name>/<path>"; systray
// registers from its unique name and also owns a well-known one.
func (h *dbusHost) ours(service string) bool {
	name, _, _ := strings.Cut(service, "/")
	if name == fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid()) {
		return true
	}
	for _, n := range h.shared.Names() {
		if n == name {
			return true
		}
	}
	return false
}

func (h *dbusHost) registered() bool {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var v dbus.Variant
	err := h.priv.Object(watcherName, watcherPath).CallWithContext(ctx,
		"org.freedesktop.DBus.Properties.Get", 0, watcherIface, "RegisteredStatusNotifierItems").Store(&v)
	if err != nil {
		return false
	}
	items, _ := v.Value().([]string)
	for _, s := range items {
		if h.ours(s) {
			return true
		}
	}
	return false
}

// register asks the watcher to add the item, from systray's connection (the
// watcher takes the sender as the item's bus name).
func (h *dbusHost) register() error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return h.shared.Object(watcherName, watcherPath).CallWithContext(ctx,
		watcherIface+".RegisterStatusNotifierItem", 0, itemPath).Err
}

// watch follows the tray host. systray registers the item again by itself
// when a watcher appears, but its watcher goroutine ends for good on the
// first unexpected signal on the shared connection (a notification's
// 2-argument NotificationClosed does it): then only this keeps the icon
// across panel restarts.
func (h *dbusHost) watch(sigs <-chan *dbus.Signal) {
	defer h.wg.Done()
	var grace <-chan time.Time
	for {
		select {
		case <-h.stop:
			return
		case sig, ok := <-sigs:
			if !ok {
				return // connection closed
			}
			switch sig.Name {
			case "org.freedesktop.DBus.NameOwnerChanged":
				if len(sig.Body) != 3 {
					continue
				}
				newOwner, _ := sig.Body[2].(string)
				if newOwner == "" {
					h.log.Info("tray: the tray host went away; the icon comes back when it restarts")
					grace = nil
					continue
				}
				h.log.Info("tray: a tray host appeared; showing the icon")
				grace = time.After(registerGrace)
			case watcherIface + ".StatusNotifierItemRegistered":
				if len(sig.Body) < 1 {
					continue
				}
				if s, _ := sig.Body[0].(string); h.ours(s) {
					grace = nil
					select {
					case h.ch <- itemRegistered:
					default: // one pending is enough
					}
				}
			}
		case <-grace:
			grace = nil
			if !h.registered() {
				h.log.Debug("tray: registering the item with the new tray host")
				if err := h.register(); err != nil {
					h.log.Warn("tray: could not register the icon with the tray host", "err", err)
				}
			}
		}
	}
}
