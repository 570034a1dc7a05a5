package notify

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// recorder is a set of Handlers that report each press.
type recorder chan string

func (r recorder) handlers() Handlers {
	return Handlers{
		Restart:      func() { r <- ActionRestart },
		OpenLog:      func() { r <- ActionOpenLog },
		OpenSettings: func() { r <- ActionOpenSettings },
	}
}

func (r recorder) want(t *testing.T, key string) {
	t.Helper()
	if got := testenv.Recv(t, (<-chan string)(r), fmt.Sprintf("a press of %q", key)); got != key {
		t.Fatalf("pressed %q, want %q", got, key)
	}
}

func (r recorder) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-r:
		t.Fatalf("unexpected press of %q", got)
	case <-time.After(200 * time.Millisecond): // a signal that should not come
	}
}

// A server that lists "actions" gets buttons, and an ActionInvoked for our
// notification runs its handler; one for another id, or from a client that
// is not the server, does nothing.
func TestActionsOverDBus(t *testing.T) {
	testenv.NoLeaks(t) // the signal goroutine too
	addr := desktoptest.StartBus(t).Address
	srv := startFakeServer(t, addr, []string{"body", "actions"}, nil)
	serverConn := dial(t, addr) // another connection of the test, not the name's owner
	pressed := make(recorder, 4)

	n := New(status.NotifyFailures, nil, WithBusAddress(addr), WithHandlers(pressed.handlers()))
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)
	send(t, events, running, failed)
	c := srv.next(t)
	if !slices.Equal(c.Actions, []string{ActionRestart, "Restart", ActionOpenLog, "Open log"}) {
		t.Fatalf("actions %q", c.Actions)
	}
	if strings.Contains(c.Body, "ocm-tray restart") {
		t.Errorf("buttons and the command both: %q", c.Body)
	}
	// The next Notify arrives only after the notifier took the reply to
	// this one: from then on it knows c.ID is its own.
	send(t, events, portBusy)
	if c2 := srv.next(t); !slices.Equal(c2.Actions, []string{ActionOpenSettings, "Open settings"}) {
		t.Fatalf("port conflict: actions %q", c2.Actions)
	}
	srv.emit(t, c.ID, ActionOpenLog)
	pressed.want(t, ActionOpenLog)
	srv.emit(t, c.ID+1000, ActionRestart) // another program's notification
	pressed.none(t)
	// Anyone can send a signal, broadcast or addressed to us; only the
	// server's count.
	if err := serverConn.Emit(notificationsPath, notificationsIface+".ActionInvoked", c.ID, ActionRestart); err != nil {
		t.Fatal(err)
	}
	pressed.none(t)
	spoof := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(notificationsPath),
		dbus.FieldInterface:   dbus.MakeVariant(notificationsIface),
		dbus.FieldMember:      dbus.MakeVariant("ActionInvoked"),
		dbus.FieldDestination: dbus.MakeVariant(srv.clients(t)[0]),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(c.ID, ActionRestart)),
	}, Body: []any{c.ID, ActionRestart}}
	if call := serverConn.Send(spoof, nil); call.Err != nil {
		t.Fatal(call.Err)
	}
	pressed.none(t)
	srv.emit(t, c.ID, ActionRestart)
	pressed.want(t, ActionRestart)
	close(events)
	waitRun(t, done)
}

// Without the "actions" capability, or without handlers, the text says the
// commands instead.
func TestActionsFallBackToText(t *testing.T) {
	for _, tc := range []struct {
		name     string
		caps     []string
		handlers bool
	}{{"server without actions", []string{"body"}, true}, {"no handlers", []string{"body", "actions"}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := desktoptest.StartBus(t).Address
			srv := startFakeServer(t, addr, tc.caps, nil)
			var opts []Option
			if tc.handlers {
				opts = append(opts, WithHandlers(make(recorder, 4).handlers()))
			}
			n := New(status.NotifyFailures, nil, append(opts, WithBusAddress(addr))...)
			events := make(chan status.Event)
			done := runNotifier(t.Context(), n, events)
			send(t, events, running, failed)
			c := srv.next(t)
			if len(c.Actions) != 0 || !strings.Contains(c.Body, "`ocm-tray restart`") || !strings.Contains(c.Body, "`ocm-tray logs`") {
				t.Errorf("failed: actions %q, body %q", c.Actions, c.Body)
			}
			send(t, events, portBusy)
			c = srv.next(t)
			if len(c.Actions) != 0 || !strings.Contains(c.Body, "`ocm-tray check`") {
				t.Errorf("port conflict: actions %q, body %q", c.Actions, c.Body)
			}
			close(events)
			waitRun(t, done)
		})
	}
}

// The real dunst: buttons pressed through its menu, as `dunstctl action`
// does for a person, reach the handlers; another program's notification
// with the same button does not.
func TestActionsOnDunst(t *testing.T) {
	d := desktoptest.StartWithoutPanel(t)
	testenv.Need(t, "dunstctl", "notify-send")
	pressed := make(recorder, 4)
	// "failures": the statuses between the failures notify nothing, so what
	// dunst shows is the failure.
	n := New(status.NotifyFailures, nil, WithBusAddress(d.Address), WithHandlers(pressed.handlers()))
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)

	shown := func(what string, ss ...status.Status) {
		t.Helper()
		d.Dunstctl(t, "close-all")
		if !testenv.Poll(testenv.WaitLimit, func() bool { return d.DunstDisplayed(t) == 0 }) {
			t.Fatal("dunst still shows notifications after close-all")
		}
		send(t, events, ss...)
		if !testenv.Poll(testenv.WaitLimit, func() bool { return d.DunstDisplayed(t) == 1 }) {
			t.Fatalf("dunst never showed %s", what)
		}
	}
	shown("the failure", starting, failed)
	d.InvokeAction(t, "Open log")
	pressed.want(t, ActionOpenLog)

	shown("the failure again", starting, failed)
	d.InvokeAction(t, "Restart")
	pressed.want(t, ActionRestart)

	shown("the port conflict", portBusy)
	d.InvokeAction(t, "Open settings") // its only button: dunst presses it at once
	pressed.want(t, ActionOpenSettings)

	// Another program's notification with the same button.
	d.Dunstctl(t, "close-all")
	other := exec.Command("notify-send", "-A", ActionRestart+"=Restart", "someone else", "not ours")
	other.Env = d.Env()
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	if !testenv.Poll(testenv.WaitLimit, func() bool { return d.DunstDisplayed(t) == 1 }) {
		t.Fatal("dunst never showed the other program's notification")
	}
	d.InvokeAction(t, "Restart")
	pressed.none(t)

	close(events)
	waitRun(t, done)
}
