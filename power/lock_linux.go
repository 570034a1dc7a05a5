package power

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/internal/sessionbus"
)

const (
	login1Name    = "org.freedesktop.login1"
	login1Path    = dbus.ObjectPath("/org/freedesktop/login1")
	login1Manager = "org.freedesktop.login1.Manager"

	// systemBusSocket is the system bus where DBUS_SYSTEM_BUS_ADDRESS does
	// not say otherwise.
	systemBusSocket = "/var/run/dbus/system_bus_socket"
)

// The inhibitor, as logind shows it (systemd-inhibit --list).
const (
	inhibitWhat = "idle"
	inhibitWho  = "ocm-tray"
	inhibitWhy  = "llama-server is generating"
	inhibitMode = "block"
)

// lock is the logind inhibitor: a file descriptor logind gave us; the lock
// lasts until it is closed. Only Run's goroutine uses it.
type lock struct {
	address string
	log     *slog.Logger
	conn    *dbus.Conn
	fd      int // -1: not held
	said    bool
}

func newLock(address string, log *slog.Logger) *lock {
	return &lock{address: address, log: log, fd: -1}
}

func (l *lock) held() bool { return l.fd >= 0 }

// acquire asks logind for the lock. Failing (no system bus, no logind, a
// refusal) is said once; the next busy slot tries again.
func (l *lock) acquire(ctx context.Context) {
	fd, err := l.inhibit(ctx)
	if err != nil {
		if !l.said {
			l.said = true
			l.log.Warn("keep_awake_while_generating: cannot keep the session awake; it may idle into suspend while llama-server generates", "err", err)
		}
		return
	}
	l.fd = fd
	l.log.Debug("holding a logind idle inhibitor while llama-server generates")
}

func (l *lock) inhibit(ctx context.Context) (int, error) {
	conn, err := l.connect(ctx)
	if err != nil {
		return -1, err
	}
	var fd dbus.UnixFD
	err = conn.Object(login1Name, login1Path).CallWithContext(ctx, login1Manager+".Inhibit", 0,
		inhibitWhat, inhibitWho, inhibitWhy, inhibitMode).Store(&fd)
	if err != nil {
		if !conn.Connected() {
			l.close()
		}
		return -1, fmt.Errorf("logind Inhibit: %w", err)
	}
	return int(fd), nil
}

// release closes the lock's descriptor: logind drops the lock.
func (l *lock) release() {
	if l.fd >= 0 {
		syscall.Close(l.fd)
		l.fd = -1
		l.log.Debug("released the logind idle inhibitor")
	}
}

// close releases the lock and the bus connection.
func (l *lock) close() {
	l.release()
	if l.conn != nil {
		l.conn.Close()
		l.conn = nil
	}
}

var errNoSystemBus = errors.New("no D-Bus system bus")

// connect returns the system bus connection, opening it when needed.
func (l *lock) connect(ctx context.Context) (*dbus.Conn, error) {
	if l.conn != nil && l.conn.Connected() {
		return l.conn, nil
	}
	l.conn = nil
	addr := l.address
	if addr == "" {
		addr = os.Getenv("DBUS_SYSTEM_BUS_ADDRESS")
	}
	if addr == "" {
		if _, err := os.Stat(systemBusSocket); err != nil {
			return nil, fmt.Errorf("%w (%s: %w)", errNoSystemBus, systemBusSocket, err)
		}
		addr = "unix:path=" + systemBusSocket
	}
	conn, err := sessionbus.Dial(ctx, addr)
	var dialErr *sessionbus.DialError
	switch {
	case errors.As(err, &dialErr):
		return nil, fmt.Errorf("%w at %s: %w", errNoSystemBus, addr, err)
	case err != nil:
		return nil, fmt.Errorf("connecting to the system bus at %s: %w", addr, err)
	}
	l.conn = conn
	return conn, nil
}
