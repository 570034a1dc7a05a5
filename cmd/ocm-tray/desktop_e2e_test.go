//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/assets/icons"
	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// These tests run the real ocm-tray binary WITHOUT --headless on a real
// desktop test bed (desktoptest: Xvfb, a private session bus, xfce4-panel as
// the tray host, dunst as the notification server) and check what a user
// sees, from the outside: the tray item on the bus, its icon, its menu, the
// notifications sent to the server; and that a hung notification server or
// no session bus at all stalls nothing.

// Summaries of the notifications these tests expect (notify.Compose).
const (
	sumStarting = "llama-server starting"
	sumRunning  = "llama-server running"
	sumStopped  = "llama-server stopped"
	sumRetry1   = "llama-server restarting (attempt 1/1)"
	sumFailed   = "llama-server failed after 1 restart"
)

// startTrayAgent runs the agent without --headless in e's XDG directories,
// with DISPLAY and DBUS_SESSION_BUS_ADDRESS taken from session (the test
// bed's environment; nil for none) plus extra. The agent is race-built:
// its race reports are checked when the test ends (see
// desktoptest.LibraryRace), not turned into exit status 66, so that the
// exit status says what the agent itself returned.
func (e *env) startTrayAgent(bin string, session []string, extra ...string) *agentProc {
	e.t.Helper()
	var a *agentProc
	// Registered before startAgentWith's Cleanup, so it runs after the
	// agent was stopped and its stderr is complete.
	e.t.Cleanup(func() {
		if a == nil {
			return
		}
		checkRaces(e.t, a.Stderr.String())
		if e.t.Failed() || testing.Verbose() {
			e.t.Logf("agent stderr:\n%s", a.Stderr)
		}
	})
	vars := make([]string, 0, len(e.vars)+4)
	for _, kv := range e.vars {
		if !strings.HasPrefix(kv, "GORACE=") {
			vars = append(vars, kv)
		}
	}
	vars = append(vars, "GORACE=atexit_sleep_ms=0 exitcode=0")
	for _, kv := range session {
		if strings.HasPrefix(kv, "DISPLAY=") || strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			vars = append(vars, kv)
		}
	}
	vars = append(vars, extra...)
	a = e.startAgentWith(bin, vars)
	return a
}

// editSettings replaces lines of the settings file written by
// writeSettings (pairs old, new), writing the result as an editor does.
func (e *env) editSettings(pairs ...string) {
	e.t.Helper()
	body := string(mustRead(e.t, e.settings))
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(body, pairs[i]) {
			e.t.Fatalf("settings have no %q", pairs[i])
		}
		body = strings.Replace(body, pairs[i], pairs[i+1], 1)
	}
	tmp := e.settings + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.settings); err != nil {
		e.t.Fatal(err)
	}
}

// breakModel makes the model too big to load: a failure worth retrying
// (memory may be free at the next try), unlike a file that is no model or
// an architecture the build does not know, which no retry fixes.
func (e *env) breakModel() {
	e.t.Helper()
	if err := fakellama.WriteFailingModel(filepath.Join(e.models, "tiny.gguf"), fakellama.LoadErrorOOM); err != nil {
		e.t.Fatal(err)
	}
}

// crashLoop breaks the model and restarts the server: with max_restarts = 1
// it fails twice and ends in failed_after_max_restarts.
func (e *env) crashLoop() {
	e.t.Helper()
	e.breakModel()
	if _, errOut, code := e.cli("restart"); code != 0 {
		e.t.Fatalf("restart: exit %d: %s", code, errOut)
	}
}

// exitCode waits for the agent to exit and returns its exit status.
func exitCode(t *testing.T, a *agentProc) int {
	t.Helper()
	a.Wait(t)
	return a.Cmd.ProcessState.ExitCode()
}

// agentItem waits until the agent with pid exports its item and the tray
// host lists it.
func agentItem(t *testing.T, d *desktoptest.Desktop, a *agentProc) *desktoptest.Item {
	t.Helper()
	it := desktoptest.FindItem(t, d.Bus, a.Cmd.Process.Pid)
	it.WaitRegistered()
	return it
}

// pixels is the item's IconPixmap as the tray host reads it (one size).
func pixels(t *testing.T, it *desktoptest.Item) []byte {
	t.Helper()
	px := it.IconPixmap()
	if len(px) != 1 {
		t.Fatalf("IconPixmap has %d sizes, want 1", len(px))
	}
	return px[0].Pix
}

// iconIs reports whether the item sends s's 32 px icon.
func iconIs(t *testing.T, it *desktoptest.Item, s status.State) bool {
	t.Helper()
	return bytes.Equal(pixels(t, it), desktoptest.ARGB32(t, icons.PNG(s, 32)))
}

func waitIcon(t *testing.T, it *desktoptest.Item, s status.State) {
	t.Helper()
	if !testenv.Poll(testenv.WaitLimit, func() bool { return iconIs(t, it, s) }) {
		t.Fatalf("the item's IconPixmap never became the %s icon", s)
	}
}

// waitVisible waits until the menu shows label.
func waitVisible(t *testing.T, it *desktoptest.Item, label string) {
	t.Helper()
	if !testenv.Poll(testenv.WaitLimit, func() bool { return slices.Contains(it.VisibleLabels(), label) }) {
		t.Fatalf("the menu never showed %q: %q", label, it.VisibleLabels())
	}
}

// notification is one Notify call seen on the bus, with the server's reply.
type notification struct {
	sender  string // unique name of the caller
	serial  uint32
	app     string
	replace uint32
	summary string
	body    string
	actions []string // key, label, key, label...
	urgency byte
	expire  int32
	id      uint32 // from the server's reply; 0 until replied
	replied bool
}

// monitor watches a bus as a D-Bus monitor (BecomeMonitor): every Notify
// call to the notification server and the server's replies.
type monitor struct {
	t      *testing.T
	msgs   chan *dbus.Message
	seen   []*notification
	closed []closedSignal
}

// closedSignal is a NotificationClosed the server sent.
type closedSignal struct {
	dest string // the connection it was sent to
	args int
}

func startMonitor(t *testing.T, d *desktoptest.Desktop) *monitor {
	t.Helper()
	server := d.NameOwner(desktoptest.NotificationsName)
	if server == "" {
		t.Fatal("no notification server on the bus")
	}
	conn, err := dbus.Connect(d.BusAddress)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m := &monitor{t: t, msgs: make(chan *dbus.Message, 4096)}
	// Eavesdrop before BecomeMonitor: a monitored call must never reach
	// godbus's dispatcher, which would answer it (and a monitor that sends
	// anything is disconnected). The reply to BecomeMonitor then also comes
	// through msgs, and says monitoring has begun.
	conn.Eavesdrop(m.msgs)
	rules := []string{
		"type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
		"type='method_return',sender='" + server + "'",
		// dunst sends it to the notification's sender only.
		"type='signal',sender='" + server + "',interface='org.freedesktop.Notifications',member='NotificationClosed'",
	}
	conn.BusObject().Go("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, nil, rules, uint32(0))
	timeout := time.After(testenv.WaitLimit)
	for {
		select {
		case msg := <-m.msgs:
			switch msg.Type {
			case dbus.TypeMethodReply:
				return m
			case dbus.TypeError:
				t.Fatalf("BecomeMonitor: %v", msg.Body)
			}
		case <-timeout:
			t.Fatal("BecomeMonitor: no reply")
		}
	}
}

func header(msg *dbus.Message, f dbus.HeaderField) any {
	v, ok := msg.Headers[f]
	if !ok {
		return nil
	}
	return v.Value()
}

// take records one monitored message.
func (m *monitor) take(msg *dbus.Message) {
	sender, _ := header(msg, dbus.FieldSender).(string)
	switch msg.Type {
	case dbus.TypeMethodCall:
		if len(msg.Body) != 8 {
			m.t.Errorf("Notify with %d arguments: %#v", len(msg.Body), msg.Body)
			return
		}
		n := &notification{sender: sender, serial: msg.Serial()}
		n.app, _ = msg.Body[0].(string)
		n.replace, _ = msg.Body[1].(uint32)
		n.summary, _ = msg.Body[3].(string)
		n.body, _ = msg.Body[4].(string)
		n.actions, _ = msg.Body[5].([]string)
		n.expire, _ = msg.Body[7].(int32)
		if hints, ok := msg.Body[6].(map[string]dbus.Variant); ok {
			if u, ok := hints["urgency"]; ok {
				n.urgency, _ = u.Value().(byte)
			}
		}
		m.seen = append(m.seen, n)
	case dbus.TypeSignal:
		dest, _ := header(msg, dbus.FieldDestination).(string)
		// The bus also says NameLost to a new monitor.
		if header(msg, dbus.FieldMember) == "NotificationClosed" {
			m.closed = append(m.closed, closedSignal{dest: dest, args: len(msg.Body)})
		}
	case dbus.TypeMethodReply:
		rs, _ := header(msg, dbus.FieldReplySerial).(uint32)
		dest, _ := header(msg, dbus.FieldDestination).(string)
		for _, n := range m.seen {
			if n.serial == rs && n.sender == dest && len(msg.Body) == 1 {
				n.id, _ = msg.Body[0].(uint32)
				n.replied = true
			}
		}
	}
}

// until takes monitored messages until done holds, failing the test after
// testenv.WaitLimit.
func (m *monitor) until(what string, done func() bool) {
	m.t.Helper()
	timeout := time.After(testenv.WaitLimit)
	for !done() {
		select {
		case msg := <-m.msgs:
			m.take(msg)
		case <-timeout:
			m.t.Fatalf("waited %v for %s; Notify calls seen: %s", testenv.WaitLimit, what, summaries(m.seen))
		}
	}
}

// waitNotified waits until a Notify call with summary, among those from
// the from'th on, was answered by the server, and returns every Notify seen
// so far.
func (m *monitor) waitNotified(from int, summary string) []*notification {
	m.t.Helper()
	m.until(fmt.Sprintf("an answered Notify %q", summary), func() bool {
		for _, n := range m.seen[min(from, len(m.seen)):] {
			if n.summary == summary && n.replied {
				return true
			}
		}
		return false
	})
	return m.seen
}

// waitClosed waits for the next NotificationClosed signal.
func (m *monitor) waitClosed() closedSignal {
	m.t.Helper()
	m.until("a NotificationClosed", func() bool { return len(m.closed) > 0 })
	c := m.closed[0]
	m.closed = m.closed[1:]
	return c
}

func summaries(ns []*notification) string {
	var s []string
	for _, n := range ns {
		s = append(s, fmt.Sprintf("%q(urgency %d, replaces %d, id %d)", n.summary, n.urgency, n.replace, n.id))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// TestDesktopIconFollowsStatus: the agent's StatusNotifierItem registers
// with the tray host, and its icon is the running icon while the server
// runs and the failed icon after the restarts ran out.
func TestDesktopIconFollowsStatus(t *testing.T) {
	d := desktoptest.Start(t)
	e := newEnv(t)
	e.writeSettings("max_restarts = 1\n", true)
	a := e.startTrayAgent(agentBin, d.Env())
	it := agentItem(t, d, a)

	e.waitState("running")
	waitIcon(t, it, status.Running)
	running := pixels(t, it)

	e.crashLoop()
	st := e.waitState("failed_after_max_restarts")
	if st["attempts"] != float64(1) {
		t.Fatalf("status %v, want attempts 1", st)
	}
	waitIcon(t, it, status.FailedAfterMaxRestarts)
	if bytes.Equal(pixels(t, it), running) {
		t.Fatal("the running and the failed icon send the same pixels")
	}

	if _, errOut, code := e.cli("quit"); code != 0 {
		t.Fatalf("quit: exit %d: %s", code, errOut)
	}
	if code := exitCode(t, a); code != 0 {
		t.Fatalf("agent exit status %d", code)
	}
}

// TestDesktopCrashLoopNotifies: each transition of a crash loop reaches
// the notification server (dunst) as a Notify that replaces the previous
// one; failed_after_max_restarts is critical (urgency byte 2), stays until
// dismissed and says what to do.
func TestDesktopCrashLoopNotifies(t *testing.T) {
	d := desktoptest.Start(t)
	e := newEnv(t)
	e.writeSettings("max_restarts = 1\n", true)
	// The children load until the gate file exists. It does at first, so
	// the first child is up at once.
	gate := filepath.Join(e.root, "loaded")
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.vars = append(e.vars, fakellama.EnvLoadUntil+"="+gate)
	m := startMonitor(t, d)
	a := e.startTrayAgent(agentBin, d.Env())
	e.waitState("running")
	// Once "running" was shown, every later Notify is the crash loop's.
	before := len(m.waitNotified(0, sumRunning))

	// The crash loop's first child loads until the gate opens again, and
	// its "starting" is shown meanwhile: the notifier is then idle, so the
	// restarting that follows is shown at once, however slow the machine.
	if err := os.Remove(gate); err != nil {
		t.Fatal(err)
	}
	e.crashLoop()
	m.waitNotified(before, sumStarting)
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.waitState("failed_after_max_restarts")
	all := m.waitNotified(before, sumFailed)
	seen := all[before:]
	t.Logf("Notify calls: %s", summaries(all))

	// Every Notify is one of the crash loop's, in its order, each replacing
	// the one before; the restarting one and the failure are there.
	want := []string{sumStarting, sumRetry1, sumStarting, sumFailed}
	i := 0
	for k, n := range seen {
		for i < len(want) && want[i] != n.summary {
			i++
		}
		if i == len(want) {
			t.Fatalf("Notify %d %q is not in the crash loop's order %q; seen %s", k, n.summary, want, summaries(seen))
		}
		i++
		if n.app != "ocm-tray" {
			t.Errorf("Notify %q: app_name %q", n.summary, n.app)
		}
		if n.replace == 0 {
			t.Errorf("Notify %q replaces nothing: the agent notified before, it must replace that one", n.summary)
		}
		if prev := all[before+k-1]; prev.replied && n.replace != prev.id {
			t.Errorf("Notify %q replaces %d, want %d (the previous one)", n.summary, n.replace, prev.id)
		}
	}
	var retry *notification
	for _, n := range seen {
		if n.summary == sumRetry1 {
			retry = n
		}
	}
	if retry == nil {
		t.Fatalf("no %q notification; seen %s", sumRetry1, summaries(seen))
	}
	last := seen[len(seen)-1]
	if last.summary != sumFailed {
		t.Fatalf("the last notification is %q, want %q", last.summary, sumFailed)
	}
	for _, n := range seen {
		wantUrgency := byte(1)
		if n.summary == sumFailed {
			wantUrgency = 2
		}
		if n.urgency != wantUrgency {
			t.Errorf("Notify %q: urgency %d, want %d", n.summary, n.urgency, wantUrgency)
		}
	}
	if last.expire != 0 {
		t.Errorf("the failure notification expires (%d); it must stay until dismissed", last.expire)
	}
	// What failed (how it died, and the server's own reason, not libstdc++'s
	// "terminate called") and what to do: dunst shows buttons, so the body
	// names no command and no file.
	for _, s := range []string{"after 1 restart", "SIGABRT: failed to allocate buffer of size", "To fix: not enough memory to load the model"} {
		if !strings.Contains(last.body, s) {
			t.Errorf("the failure notification's body lacks %q:\n%s", s, last.body)
		}
	}
	if want := []string{"restart", "Restart", "open-log", "Open log"}; !slices.Equal(last.actions, want) {
		t.Errorf("the failure notification's actions are %q, want %q", last.actions, want)
	}
	if strings.Contains(last.body, "ocm-tray restart") || strings.Contains(last.body, e.root) {
		t.Errorf("the failure notification names a command or a path despite its buttons:\n%s", last.body)
	}
	if !strings.Contains(retry.body, "SIGABRT") {
		t.Errorf("the restarting notification does not say how the server died:\n%s", retry.body)
	}

	if _, errOut, code := e.cli("quit"); code != 0 {
		t.Fatalf("quit: exit %d: %s", code, errOut)
	}
	if code := exitCode(t, a); code != 0 {
		t.Fatalf("agent exit status %d", code)
	}
}

// TestDesktopMenuActsOnTheAgent clicks Stop, Start, Restart and Quit
// through com.canonical.dbusmenu, as the tray host does.
func TestDesktopMenuActsOnTheAgent(t *testing.T) {
	d := desktoptest.Start(t)
	e := newEnv(t)
	e.writeSettings("", true)
	a := e.startTrayAgent(agentBin, d.Env())
	it := agentItem(t, d, a)
	pid := pidOf(e.waitState("running"))

	waitVisible(t, it, "Stop llama-server")
	it.Click("Stop llama-server")
	e.waitState("stopped")
	if alive(pid) {
		t.Fatal("the child is alive after Stop")
	}
	waitVisible(t, it, "Start llama-server")
	if slices.Contains(it.VisibleLabels(), "Stop llama-server") {
		t.Errorf("Stop and Start both shown: %q", it.VisibleLabels())
	}

	it.Click("Start llama-server")
	pid2 := pidOf(e.waitState("running"))
	waitVisible(t, it, "Stop llama-server")

	it.Click("Restart llama-server")
	var pid3 int
	testenv.Eventually(e.t, "a new child after Restart", func() bool {
		st := e.status()
		pid3 = pidOf(st)
		return st["state"] == "running" && pid3 != pid2
	})
	if alive(pid2) {
		t.Fatal("the old child is alive after Restart")
	}

	it.Click("Quit")
	if code := exitCode(t, a); code != 0 {
		t.Fatalf("agent exit status %d after Quit", code)
	}
	if alive(pid3) {
		t.Fatalf("the child %d outlived the agent's Quit", pid3)
	}
	if _, _, code := e.cli("status"); code != 3 {
		t.Fatalf("status after Quit: exit %d, want 3", code)
	}
	if !testenv.Poll(testenv.WaitLimit, func() bool { return !it.Registered() }) {
		t.Error("the item is still registered after Quit")
	}
}

// TestDesktopIconSurvivesPanelRestartAfterNotifications: notifications
// shown and closed (whose 2-argument NotificationClosed signal ends
// systray's own re-registration if it reaches systray's connection), then
// the panel restarts: the icon must come back.
func TestDesktopIconSurvivesPanelRestartAfterNotifications(t *testing.T) {
	d := desktoptest.Start(t)
	e := newEnv(t)
	e.writeSettings("", true)
	a := e.startTrayAgent(agentBin, d.Env())
	it := agentItem(t, d, a)
	e.waitState("running")

	m := startMonitor(t, d)
	e.cli("stop")
	e.waitState("stopped")
	m.waitNotified(0, sumStopped)
	e.cli("start")
	e.waitState("running")
	m.waitNotified(0, sumRunning)
	if !testenv.Poll(testenv.WaitLimit, func() bool { return d.DunstDisplayed(t) > 0 }) {
		t.Fatal("dunst shows no notification")
	}

	d.Dunstctl(t, "close-all")
	// dunst sends NotificationClosed (id, reason: 2 arguments) to the
	// notification's sender: the agent's own connection for notifications,
	// never systray's (where it would end systray's re-registration).
	cl := m.waitClosed()
	if cl.dest == it.Owner {
		t.Errorf("NotificationClosed went to systray's connection %s", cl.dest)
	}
	if cl.args != 2 {
		t.Errorf("NotificationClosed with %d arguments", cl.args)
	}
	if !testenv.Poll(testenv.WaitLimit, func() bool { return d.DunstDisplayed(t) == 0 }) {
		t.Fatal("dunst still shows notifications after close-all")
	}

	restarted := time.Now()
	d.RestartPanel()
	it.WaitRegistered()
	t.Logf("item registered again %v after the panel restart began", time.Since(restarted))
	waitIcon(t, it, status.Running)
	// The item that came back is the live one: its menu still acts.
	it.Click("Stop llama-server")
	e.waitState("stopped")
	waitIcon(t, it, status.Stopped)

	if _, errOut, code := e.cli("quit"); code != 0 {
		t.Fatalf("quit: exit %d: %s", code, errOut)
	}
	if code := exitCode(t, a); code != 0 {
		t.Fatalf("agent exit status %d", code)
	}
}

// TestDesktopHungNotificationServerStallsNothing: a notification server
// that takes every call and never answers. There is no tray host either
// (a bus without a panel). The crash loop still runs at its own pace and
// the CLI answers at once.
func TestDesktopHungNotificationServerStallsNothing(t *testing.T) {
	b := desktoptest.StartBus(t)
	silent := desktoptest.StartSilentNotifier(t, b.Address)
	e := newEnv(t)
	e.writeSettings("max_restarts = 1\n", true)
	a := e.startTrayAgent(agentBin, b.Env())
	e.waitState("running") // its notification is now stuck in the server

	// Nothing may hang on the server: the crash loop runs to its end and
	// the CLI answers. (That nothing even waits on it, for a send timeout,
	// is proven where time can be held still: notify's hung-server tests
	// give the server an hour.) The times are logged, not judged: on a
	// loaded machine they say little.
	began := time.Now()
	e.crashLoop()
	testenv.Eventually(e.t, "failed_after_max_restarts", func() bool { return e.status()["state"] == "failed_after_max_restarts" })
	t.Logf("restart -> failed_after_max_restarts in %v with a hung notification server", time.Since(began))
	if !testenv.Poll(testenv.WaitLimit, func() bool { return silent.Count() > 0 }) {
		t.Fatal("the agent never called the notification server")
	}

	for i := 0; i < 3; i++ {
		if _, errOut, code := e.cli("status"); code != 0 {
			t.Fatalf("status: exit %d: %s", code, errOut)
		}
	}
	began = time.Now()
	if _, errOut, code := e.cli("quit"); code != 0 {
		t.Fatalf("quit: exit %d: %s", code, errOut)
	}
	if code := exitCode(t, a); code != 0 {
		t.Fatalf("agent exit status %d", code)
	}
	t.Logf("agent gone %v after quit; the hung server got %d calls", time.Since(began), silent.Count())
	log := a.Stderr.String()
	if n := strings.Count(log, "no tray host"); n != 1 {
		t.Errorf("the agent said %d times that there is no tray host, want once:\n%s", n, log)
	}
}

// TestDesktopNoSessionBus: DBUS_SESSION_BUS_ADDRESS names a socket nobody
// listens on and there is no DISPLAY, and --headless is not given. The
// agent supervises, says once why there is no icon, answers the CLI and
// quits cleanly (systray would panic at Quit on a nil connection).
func TestDesktopNoSessionBus(t *testing.T) {
	e := newEnv(t)
	sock := filepath.Join(e.root, "dead-bus")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // the socket file stays; connecting is refused
	e.writeSettings("", true)
	a := e.startTrayAgent(agentBin, nil, "DBUS_SESSION_BUS_ADDRESS=unix:path="+sock)
	pid := pidOf(e.waitState("running"))

	// Transitions that would notify: the agent keeps going.
	e.cli("stop")
	e.waitState("stopped")
	e.cli("start")
	pid = pidOf(e.waitState("running"))

	logFile := filepath.Join(e.root, "state", "ocm", "ocm-tray.log")
	testenv.Eventually(e.t, "the no-icon message", func() bool { return strings.Contains(a.Stderr.String(), "no tray icon") })
	if _, errOut, code := e.cli("quit"); code != 0 {
		t.Fatalf("quit: exit %d: %s", code, errOut)
	}
	if alive(pid) {
		t.Fatal("quit returned while the child was alive")
	}
	if code := exitCode(t, a); code != 0 {
		t.Fatalf("agent exit status %d:\n%s", code, a.Stderr)
	}
	stderr := a.Stderr.String()
	for name, text := range map[string]string{"stderr": stderr, "log file": string(mustRead(t, logFile))} {
		if n := strings.Count(text, "no tray icon"); n != 1 {
			t.Errorf("%s says %d times why there is no icon, want once:\n%s", name, n, text)
		}
		if !strings.Contains(text, "cannot reach the D-Bus session bus") {
			t.Errorf("%s does not say why there is no icon:\n%s", name, text)
		}
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("the agent panicked:\n%s", stderr)
	}
}

// TestDesktopScreenshotFailureNotification takes the screenshot of dunst
// showing the agent's failed_after_max_restarts notification for the
// README. It runs only with OCM_SCREENSHOTS set to the folder to write to
// (a relative path is taken from the repository root), e.g.
//
//	OCM_SCREENSHOTS=docs/screenshots go test -run Screenshot ./cmd/ocm-tray/
func TestDesktopScreenshotFailureNotification(t *testing.T) {
	dir := os.Getenv("OCM_SCREENSHOTS")
	if dir == "" {
		t.Skip("OCM_SCREENSHOTS is not set")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir)
	}
	d := desktoptest.Start(t)
	e := newEnv(t)
	e.writeSettings("max_restarts = 1\n", true)
	a := e.startTrayAgent(agentBin, d.Env())
	agentItem(t, d, a)
	e.waitState("running")

	m := startMonitor(t, d)
	d.Dunstctl(t, "close-all")
	if !testenv.Poll(testenv.WaitLimit, func() bool { return d.DunstDisplayed(t) == 0 }) {
		t.Fatal("dunst still shows notifications after close-all")
	}
	before := grab(t, d)
	e.crashLoop()
	m.waitNotified(0, sumFailed)

	// dunst draws its critical notification on #900000 with a #ff0000
	// frame; wait until the changed part of the screen (the panel aside)
	// is that and stays the same.
	var box image.Rectangle
	var shot image.Image
	stable := testenv.Poll(testenv.WaitLimit, func() bool {
		s := grab(t, d)
		b := changed(before, s)
		ok := !b.Empty() && b == box && countColour(s, b, 0x90, 0, 0) > 1000 && countColour(s, b, 0xff, 0, 0) > 100
		box, shot = b, s
		return ok
	})
	if !stable {
		t.Fatalf("dunst never showed the critical notification steadily (changed area %v)", box)
	}
	crop := shot.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(box)
	path := filepath.Join(dir, "notification-failed.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, crop); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%dx%d)", path, box.Dx(), box.Dy())
	e.cli("quit")
	exitCode(t, a)
}

// grab is a screenshot of the whole screen.
func grab(t *testing.T, d *desktoptest.Desktop) image.Image {
	t.Helper()
	path := filepath.Join(t.TempDir(), "screen.png")
	if err := d.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// changed is the bounding box of the pixels that differ between a and b,
// below the panel.
func changed(a, b image.Image) image.Rectangle {
	var box image.Rectangle
	r := a.Bounds().Intersect(b.Bounds())
	for y := r.Min.Y + desktoptest.PanelHeight; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box
}

func countColour(img image.Image, r image.Rectangle, cr, cg, cb uint8) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if uint8(pr>>8) == cr && uint8(pg>>8) == cg && uint8(pb>>8) == cb {
				n++
			}
		}
	}
	return n
}

// TestDesktopMeasure measures the agent with the tray up, built without
// the race detector as users run it: idle RSS, idle CPU over 30 s with
// health_check_interval = "5s", and the time from a status change to the
// item's NewIcon signal on the bus. It runs only with OCM_MEASURE=1
// (OCM_MEASURE_WINDOW=10s shortens the idle window).
func TestDesktopMeasure(t *testing.T) {
	if os.Getenv("OCM_MEASURE") != "1" {
		t.Skip("OCM_MEASURE=1 is not set")
	}
	bin, err := testproc.Build("ocm-tray", ".")
	if err != nil {
		t.Fatal(err)
	}
	d := desktoptest.Start(t)
	e := newEnv(t)
	e.writeSettings("", true)
	e.editSettings(`health_check_interval = "200ms"`, `health_check_interval = "5s"`, `health_check_timeout = "5s"`, `health_check_timeout = "15s"`)
	a := e.startTrayAgent(bin, d.Env())
	it := agentItem(t, d, a)
	e.waitState("running")
	waitIcon(t, it, status.Running)
	pid := a.Cmd.Process.Pid

	window := 30 * time.Second
	if s := os.Getenv("OCM_MEASURE_WINDOW"); s != "" {
		if w, err := time.ParseDuration(s); err == nil {
			window = w
		}
	}
	cpu0, t0 := cpuNanos(t, pid), time.Now()
	time.Sleep(window) // the measurement window itself
	cpu1, t1 := cpuNanos(t, pid), time.Now()
	t.Logf("idle over %v: VmRSS %s, CPU %.3f%% (%.1f ms of CPU)",
		t1.Sub(t0).Round(time.Millisecond), vmRSS(t, pid),
		100*float64(cpu1-cpu0)/float64(t1.Sub(t0).Nanoseconds()), float64(cpu1-cpu0)/1e6)

	// Status change -> NewIcon: the watch stream's "at" of each change (when
	// the state began, in the agent) to the signal's arrival here.
	watch := exec.Command(bin, "status", "--watch", "--json")
	watch.Env = e.vars
	var wout testproc.Output
	watch.Stdout = &wout
	newIcon, _ := it.NewIcons()
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(e.t, "the watch stream", func() bool { return wout.String() != "" })
	var arrivals []time.Time
	drain := func() {
		for {
			select {
			case at := <-newIcon:
				arrivals = append(arrivals, at)
			default:
				return
			}
		}
	}
	for i := 0; i < 10; i++ {
		e.cli("stop")
		e.waitState("stopped")
		waitIcon(t, it, status.Stopped)
		e.cli("start")
		e.waitState("running")
		waitIcon(t, it, status.Running)
		drain()
	}
	e.cli("quit")
	exitCode(t, a)
	watch.Wait()
	drain()

	// The first line is the status at subscription, the last the stopped
	// of the quit; each one between is a change the icon shows.
	lines := strings.Split(strings.TrimSpace(wout.String()), "\n")
	var lat []time.Duration
	for _, line := range lines[1 : len(lines)-1] {
		var ch struct{ At string }
		if err := json.Unmarshal([]byte(line), &ch); err != nil {
			t.Fatalf("watch line %q: %v", line, err)
		}
		at, err := time.Parse(time.RFC3339Nano, ch.At)
		if err != nil {
			t.Fatalf("watch line %q: %v", line, err)
		}
		for _, r := range arrivals {
			if !r.Before(at) {
				lat = append(lat, r.Sub(at))
				break
			}
		}
	}
	if len(lat) == 0 {
		t.Fatal("no status change matched a NewIcon")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("status change -> NewIcon on the bus: min %v, median %v, p90 %v, max %v (n=%d)",
		lat[0], lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1], len(lat))
}

// cpuNanos is the CPU time of every thread of pid so far
// (/proc/PID/task/*/schedstat, first field).
func cpuNanos(t *testing.T, pid int) int64 {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no schedstat for %d: %v", pid, err)
	}
	var sum int64
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that just ended
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			sum += n
		}
	}
	return sum
}

func vmRSS(t *testing.T, pid int) string {
	t.Helper()
	for _, l := range strings.Split(string(mustRead(t, fmt.Sprintf("/proc/%d/status", pid))), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.Join(strings.Fields(strings.TrimPrefix(l, "VmRSS:")), " ")
		}
	}
	return "?"
}

// checkRaces fails the test for every race report in the agent's stderr
// except the known one inside fyne.io/systray and godbus
// (desktoptest.LibraryRace).
func checkRaces(t *testing.T, stderr string) {
	t.Helper()
	known := 0
	for _, r := range desktoptest.RaceReports(strings.Split(stderr, "\n")) {
		if desktoptest.LibraryRace(r) {
			known++
			continue
		}
		t.Errorf("data race in the agent:\n%s", r)
	}
	if known > 0 {
		t.Logf("%d known data race report(s) inside fyne.io/systray + godbus (see desktoptest.LibraryRace)", known)
	}
}

// TestDesktopRestartButton: the failure notification's Restart button,
// pressed in dunst, restarts the server (after the user fixed the model).
func TestDesktopRestartButton(t *testing.T) {
	d := desktoptest.Start(t)
	e := newEnv(t)
	e.writeSettings("max_restarts = 1\n", true)
	a := e.startTrayAgent(agentBin, d.Env())
	e.waitState("running")
	d.Dunstctl(t, "close-all")

	e.crashLoop()
	e.waitState("failed_after_max_restarts")
	// The failure is on screen (it replaced the crash loop's others).
	if !testenv.Poll(testenv.WaitLimit, func() bool { return d.DunstDisplayed(t) == 1 }) {
		t.Fatalf("dunst shows %d notifications, want the failure alone", d.DunstDisplayed(t))
	}
	// The user fixes the model; a model that appears restarts nothing
	// from failed by itself: the button does.
	if err := fakellama.WriteModel(filepath.Join(e.models, "tiny.gguf")); err != nil {
		t.Fatal(err)
	}
	d.InvokeAction(t, "Restart")
	e.waitState("running")

	if _, errOut, code := e.cli("quit"); code != 0 {
		t.Fatalf("quit: exit %d: %s", code, errOut)
	}
	if code := exitCode(t, a); code != 0 {
		t.Fatalf("agent exit status %d", code)
	}
}
