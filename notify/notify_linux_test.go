package notify

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// These tests run a real dbus-daemon of their own (desktoptest.StartBus,
// which activates no service) and a fake org.freedesktop.Notifications on
// it; nothing depends on the session the tests happen to run in.

func dial(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connecting to the test bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ownName(t *testing.T, conn *dbus.Conn) {
	t.Helper()
	reply, err := conn.RequestName(notificationsName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: reply %v, err %v", notificationsName, reply, err)
	}
}

// notifyCall is one Notify call as the server saw it.
type notifyCall struct {
	AppName    string
	ReplacesID uint32
	Icon       string
	Summary    string
	Body       string
	Hints      map[string]dbus.Variant
	Timeout    int32
	Actions    []string
	Sender     string // the caller's unique name
	ID         uint32 // what the server answered
}

func (c notifyCall) urgency() any { return c.Hints["urgency"].Value() }

// fakeServer is an org.freedesktop.Notifications that records every call
// and answers with a fresh id each time, so a test can tell which id the
// next call carries in replaces_id.
type fakeServer struct {
	caps    []string
	gate    chan struct{} // when set, Notify answers only once it is closed
	arrived chan string   // the summary of every call, as it arrives
	calls   chan notifyCall

	conn *dbus.Conn // the connection that owns the name

	mu      sync.Mutex
	nextID  uint32
	senders []string // every caller of Notify, in order
}

func startFakeServer(t *testing.T, addr string, caps []string, gate chan struct{}) *fakeServer {
	t.Helper()
	f := &fakeServer{caps: caps, gate: gate, arrived: make(chan string, 100), calls: make(chan notifyCall, 100), nextID: 100}
	conn := dial(t, addr)
	f.conn = conn
	if err := conn.Export(f, notificationsPath, notificationsIface); err != nil {
		t.Fatal(err)
	}
	ownName(t, conn)
	return f
}

// emit says the user pressed a notification's button: ActionInvoked, as a
// broadcast (servers differ; dunst addresses the sender).
func (f *fakeServer) emit(t *testing.T, id uint32, key string) {
	t.Helper()
	if err := f.conn.Emit(notificationsPath, notificationsIface+".ActionInvoked", id, key); err != nil {
		t.Fatal(err)
	}
}

// clients are the unique names that called Notify.
func (f *fakeServer) clients(t *testing.T) []string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.senders) == 0 {
		t.Fatal("nobody called Notify")
	}
	return append([]string(nil), f.senders...)
}

// Notify implements org.freedesktop.Notifications.Notify.
func (f *fakeServer) Notify(sender dbus.Sender, appName string, replacesID uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	f.arrived <- summary
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	id := f.nextID
	f.nextID++
	f.senders = append(f.senders, string(sender))
	f.mu.Unlock()
	f.calls <- notifyCall{AppName: appName, ReplacesID: replacesID, Icon: icon, Summary: summary,
		Body: body, Hints: hints, Timeout: timeout, Actions: actions, Sender: string(sender), ID: id}
	return id, nil
}

// GetCapabilities implements org.freedesktop.Notifications.GetCapabilities.
func (f *fakeServer) GetCapabilities() ([]string, *dbus.Error) { return f.caps, nil }

func (f *fakeServer) next(t *testing.T) notifyCall {
	t.Helper()
	return testenv.Recv(t, f.calls, "a Notify call")
}

func (f *fakeServer) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-f.calls:
		t.Fatalf("unexpected Notify call: %+v", c)
	default:
	}
}

// hungServer owns org.freedesktop.Notifications and never answers: its
// connection diverts every incoming message to a channel.
func startHungServer(t *testing.T, addr string) <-chan *dbus.Message {
	t.Helper()
	conn := dial(t, addr)
	ownName(t, conn)
	msgs := make(chan *dbus.Message, 64)
	conn.Eavesdrop(msgs)
	return msgs
}

func waitMethodCall(t *testing.T, msgs <-chan *dbus.Message) {
	t.Helper()
	for testenv.Recv(t, msgs, "a call to the hung server").Type != dbus.TypeMethodCall {
	}
}

// runNotifier starts n.Run and returns its result channel.
func runNotifier(ctx context.Context, n *Notifier, events <-chan status.Event) <-chan error {
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, events) }()
	return done
}

// waitRun waits for Run to return, and fails the test if it failed.
func waitRun(t *testing.T, done <-chan error) {
	t.Helper()
	if err := testenv.Recv(t, done, "Run to return"); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// send hands statuses to Run one at a time and fails the test if Run stops
// taking them: each must be taken within testenv.WaitLimit, a bound only a
// Run that waits on the server (held for an hour in the hung-server tests)
// can exceed.
func send(t *testing.T, events chan<- status.Event, ss ...status.Status) {
	t.Helper()
	timer := time.NewTimer(testenv.WaitLimit)
	defer timer.Stop()
	for i, s := range ss {
		select {
		case events <- status.Event{At: time.Now(), Status: s}:
		case <-timer.C:
			t.Fatalf("Run stopped draining events: %d of %d taken in %v", i, len(ss), testenv.WaitLimit)
		}
	}
}

// logRecords is a slog handler that hands every record to the test.
type logRecords chan slog.Record

func (l logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l logRecords) Handle(_ context.Context, r slog.Record) error {
	l <- r
	return nil
}
func (l logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logRecords) WithGroup(string) slog.Handler      { return l }

func (l logRecords) next(t *testing.T) slog.Record {
	t.Helper()
	return testenv.Recv(t, (<-chan slog.Record)(l), "a log record")
}

func TestNotifyOverDBus(t *testing.T) {
	testenv.NoLeaks(t)
	addr := desktoptest.StartBus(t).Address
	srv := startFakeServer(t, addr, []string{"body"}, nil)

	n := New(status.NotifyAll, nil, WithBusAddress(addr))
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)

	// The agent's placeholder status is not worth a notification.
	send(t, events, placeholder, starting)
	first := srv.next(t)
	if first.AppName != "ocm-tray" || first.Icon != "ocm-tray" || first.ReplacesID != 0 ||
		first.urgency() != byte(1) || first.Timeout != -1 ||
		first.Hints["desktop-entry"].Value() != "ocm-tray" || !strings.Contains(first.Summary, "starting") {
		t.Errorf("first call: %+v", first)
	}

	prev := first
	for _, s := range []status.Status{running, restarting1} {
		send(t, events, s)
		c := srv.next(t)
		if c.ReplacesID != prev.ID {
			t.Errorf("%s: replaces_id %d, want %d (the id of the previous notification)", s.State, c.ReplacesID, prev.ID)
		}
		if c.urgency() != byte(1) || c.Timeout != -1 {
			t.Errorf("%s: urgency %v, timeout %d; want 1, -1", s.State, c.urgency(), c.Timeout)
		}
		prev = c
	}

	bad := failed
	bad.LastError = "signal: aborted: <unk> & friends"
	send(t, events, bad)
	c := srv.next(t)
	if c.urgency() != byte(2) || c.Timeout != 0 || c.ReplacesID != prev.ID {
		t.Errorf("failed_after_max_restarts: urgency %v, timeout %d, replaces_id %d; want 2, 0, %d",
			c.urgency(), c.Timeout, c.ReplacesID, prev.ID)
	}
	if !strings.Contains(c.Summary, "failed") || !strings.Contains(c.Body, bad.LastError) {
		t.Errorf("failed_after_max_restarts: summary %q, body %q (no body-markup: text as is)", c.Summary, c.Body)
	}

	close(events)
	waitRun(t, done)
	srv.none(t)
}

func TestNotifyEscapesForMarkupServers(t *testing.T) {
	testenv.NoLeaks(t)
	addr := desktoptest.StartBus(t).Address
	srv := startFakeServer(t, addr, []string{"body", "body-markup"}, nil)

	n := New(status.NotifyFailures, nil, WithBusAddress(addr))
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)
	bad := failed
	bad.LastError = "signal: aborted: <unk> & friends"
	send(t, events, running, bad)
	if c := srv.next(t); !strings.Contains(c.Body, "&lt;unk&gt; &amp; friends") {
		t.Errorf("body %q: markup not escaped", c.Body)
	}
	close(events)
	waitRun(t, done)
}

// While the server sits on one call, later messages coalesce to the newest,
// except that a critical one is never dropped for a non-critical one.
func TestNotifyCoalescesBehindSlowServer(t *testing.T) {
	testenv.NoLeaks(t)
	addr := desktoptest.StartBus(t).Address
	gate := make(chan struct{})
	srv := startFakeServer(t, addr, nil, gate)

	n := New(status.NotifyAll, nil, WithBusAddress(addr), WithSendTimeout(time.Minute))
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)

	send(t, events, placeholder, starting)
	testenv.Recv(t, srv.arrived, "the first Notify") // in flight: held at the gate
	// Everything below queues behind it. The last, repeated status notifies
	// nothing; taking it proves Run has dealt with the one before.
	send(t, events, running, restarting1, starting, failed, starting, stopped, starting, starting)
	close(gate)

	want := []struct {
		summary string
		urgency byte
	}{
		{"starting", 1},                // the one in flight
		{"failed after 3 restarts", 2}, // the critical one survives the burst
		{"llama-server starting", 1},   // then only the newest
	}
	for _, w := range want {
		c := srv.next(t)
		if !strings.Contains(c.Summary, w.summary) || c.urgency() != w.urgency {
			t.Errorf("got %q urgency %v, want %q urgency %d", c.Summary, c.urgency(), w.summary, w.urgency)
		}
	}
	close(events)
	waitRun(t, done)
	srv.none(t)
}

// A server that owns the name but never replies stalls nothing: Run takes a
// burst of events at once and returns promptly when cancelled.
func TestNotifyHungServer(t *testing.T) {
	testenv.NoLeaks(t)
	addr := desktoptest.StartBus(t).Address
	msgs := startHungServer(t, addr)

	// A send timeout far beyond the test's patience: only not waiting for
	// the server can pass.
	n := New(status.NotifyAll, nil, WithBusAddress(addr), WithSendTimeout(time.Hour))
	events := make(chan status.Event)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := runNotifier(ctx, n, events)

	send(t, events, placeholder, starting)
	waitMethodCall(t, msgs) // the sender is now stuck on the server

	burst := make([]status.Status, 1000)
	for i := range burst {
		burst[i] = []status.Status{running, restarting1, starting, failed}[i%4]
	}
	start := time.Now()
	send(t, events, burst...)
	t.Logf("1000 events drained in %v while a Notify hung", time.Since(start))

	cancel()
	waitRun(t, done)
}

// With events closed, Run delivers what is pending but gives up on a hung
// server after one send timeout.
func TestNotifyHungServerEventsClosed(t *testing.T) {
	testenv.NoLeaks(t)
	addr := desktoptest.StartBus(t).Address
	msgs := startHungServer(t, addr)

	n := New(status.NotifyAll, nil, WithBusAddress(addr), WithSendTimeout(100*time.Millisecond))
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)
	send(t, events, placeholder, starting)
	waitMethodCall(t, msgs)
	send(t, events, failed, stopped)
	close(events)
	waitRun(t, done)
}

// No bus at all: say so once, keep draining, never panic.
func TestNotifyNoBus(t *testing.T) {
	testenv.NoLeaks(t)
	dead := "unix:path=" + filepath.Join(testenv.ShortTempDir(t), "no-bus-here")

	logs := make(logRecords, 10)
	n := New(status.NotifyAll, slog.New(logs), WithBusAddress(dead))
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)

	send(t, events, placeholder)
	warnings := 0
	for _, s := range []status.Status{starting, running, stopped} {
		send(t, events, s)
		r := logs.next(t) // one record per dropped notification
		if r.Level == slog.LevelWarn {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings about the missing bus, want 1", warnings)
	}
	close(events)
	waitRun(t, done)
}

// The environment's bus is used when no address is given; a dead one is
// the same as none.
func TestNotifyDeadSessionBusFromEnvironment(t *testing.T) {
	testenv.NoLeaks(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(testenv.ShortTempDir(t), "dead"))

	n := New(status.NotifyAll, nil)
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)
	burst := make([]status.Status, 1000)
	for i := range burst {
		burst[i] = []status.Status{starting, running, restarting1, failed}[i%4]
	}
	send(t, events, burst...)
	close(events)
	waitRun(t, done)
}

// When the bus goes away and comes back, the next notification reconnects.
func TestNotifyReconnects(t *testing.T) {
	testenv.NoLeaks(t)
	bus := desktoptest.StartBus(t)
	addr := bus.Address // the socket only: it stays the same across Restart
	srv := startFakeServer(t, addr, nil, nil)

	logs := make(logRecords, 10)
	n := New(status.NotifyAll, slog.New(logs), WithBusAddress(addr))
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)

	send(t, events, placeholder, starting)
	srv.next(t)

	bus.Restart()
	srv2 := startFakeServer(t, addr, nil, nil)

	// The first send after the restart may find the old connection not yet
	// known to be dead; it fails and says so. The next one reconnects.
	send(t, events, running)
	select {
	case c := <-srv2.calls:
		t.Logf("reconnected at once: %q", c.Summary)
	case r := <-logs:
		t.Logf("first send after the restart failed: %s", r.Message)
		send(t, events, stopped)
		srv2.next(t)
	case <-time.After(testenv.WaitLimit):
		t.Fatal("neither delivered nor failed")
	}
	close(events)
	waitRun(t, done)
}

// SetLevel takes effect from the next event.
func TestNotifySetLevel(t *testing.T) {
	testenv.NoLeaks(t)
	addr := desktoptest.StartBus(t).Address
	srv := startFakeServer(t, addr, nil, nil)

	n := New(status.NotifyOff, nil, WithBusAddress(addr))
	events := make(chan status.Event)
	done := runNotifier(t.Context(), n, events)

	send(t, events, placeholder, starting, running, restarting1, starting)
	n.SetLevel(status.NotifyFailures)
	// The history was kept while off: this running is a recovery.
	send(t, events, running)
	if c := srv.next(t); !strings.Contains(c.Summary, "running") {
		t.Errorf("got %q, want the recovery", c.Summary)
	}
	send(t, events, stopped, starting, restarting2)
	if c := srv.next(t); !strings.Contains(c.Summary, "attempt 2") {
		t.Errorf("got %q, want the restart", c.Summary)
	}
	close(events)
	waitRun(t, done)
	srv.none(t)
}
