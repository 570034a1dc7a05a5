//go:build linux

package desktoptest

import (
	"errors"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// SilentNotifier owns org.freedesktop.Notifications on a bus and never
// answers a call: a hung notification server. Code that notifies must time
// out rather than wait on it.
type SilentNotifier struct {
	conn    *dbus.Conn
	calls   chan NotifierCall
	release chan struct{}

	mu    sync.Mutex
	count int
}

// NotifierCall is one method call the SilentNotifier received (and left
// unanswered).
type NotifierCall struct {
	Member string // e.g. "Notify", "GetServerInformation"
	Args   []any
}

// StartSilentNotifier connects to the bus at address and takes the
// notification server's name (replacing an owner that allows it; fails the
// test if the name stays with someone else, as with dunst: use it on a bus
// from StartBus). Its calls are only answered, with an error, when the test
// ends.
func StartSilentNotifier(t testing.TB, address string) *SilentNotifier {
	t.Helper()
	n := &SilentNotifier{calls: make(chan NotifierCall, 64), release: make(chan struct{})}
	conn, err := dbus.Connect(address, dbus.WithHandler(silentHandler{n}))
	if err != nil {
		t.Fatalf("silent notifier: connect: %v", err)
	}
	n.conn = conn
	t.Cleanup(func() {
		close(n.release)
		conn.Close()
	})
	reply, err := conn.RequestName(NotificationsName, dbus.NameFlagReplaceExisting|dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("silent notifier: could not own %s (reply %v, err %v)", NotificationsName, reply, err)
	}
	return n
}

// Calls receives every call as it arrives (buffered; calls beyond the
// buffer are still counted).
func (n *SilentNotifier) Calls() <-chan NotifierCall { return n.calls }

// Count is the number of calls received so far.
func (n *SilentNotifier) Count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.count
}

// silentHandler answers every lookup with a method that blocks.
type silentHandler struct{ n *SilentNotifier }

func (h silentHandler) LookupObject(dbus.ObjectPath) (dbus.ServerObject, bool) { return h, true }
func (h silentHandler) LookupInterface(string) (dbus.Interface, bool)          { return h, true }
func (h silentHandler) LookupMethod(name string) (dbus.Method, bool) {
	return silentMethod{n: h.n, name: name}, true
}

type silentMethod struct {
	n    *SilentNotifier
	name string
}

var errReleased = errors.New("silent notifier: test over")

// Call records the call and blocks until the test ends; godbus runs each
// incoming call on its own goroutine, so blocking here delays only the
// reply.
func (m silentMethod) Call(args ...any) ([]any, error) {
	m.n.mu.Lock()
	m.n.count++
	m.n.mu.Unlock()
	select {
	case m.n.calls <- NotifierCall{Member: m.name, Args: args}:
	default:
	}
	<-m.n.release
	return nil, errReleased
}

func (m silentMethod) DecodeArguments(_ *dbus.Conn, _ string, _ *dbus.Message, args []any) ([]any, error) {
	return args, nil
}
func (silentMethod) NumArguments() int     { return 0 }
func (silentMethod) NumReturns() int       { return 0 }
func (silentMethod) ArgumentValue(int) any { return nil }
func (silentMethod) ReturnValue(int) any   { return nil }
