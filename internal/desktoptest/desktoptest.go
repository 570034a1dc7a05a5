//go:build linux

// Package desktoptest starts a throw-away Linux desktop for tests: a private
// X server (Xvfb), a private D-Bus session bus, xfce4-panel (whose systray
// plugin is both the StatusNotifierWatcher and the tray host) and dunst (a
// notification server), in temporary HOME and XDG directories; or only the
// bus. Everything is torn down when the test ends, leaving no process
// behind; what the programs wrote to stderr is shown when the test failed
// (always with DESKTOPTEST_VERBOSE=1).
//
// A missing program skips the test with the line that installs it, except
// under CI=true, where it fails (see testenv.Need).
package desktoptest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest/xfcepanel"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// Names on the bus that the desktop provides.
const (
	WatcherName       = "org.kde.StatusNotifierWatcher"
	WatcherPath       = "/StatusNotifierWatcher"
	NotificationsName = "org.freedesktop.Notifications"
)

// Screen and panel geometry (pixels). The panel is a single strip across
// the top of the screen holding only the systray plugin.
const (
	ScreenWidth  = 1024
	ScreenHeight = 600
	PanelHeight  = 32
)

// Bus is a private D-Bus session bus.
type Bus struct {
	// Address is the bus address (DBUS_SESSION_BUS_ADDRESS). It names the
	// socket only, so it stays valid across Restart.
	Address string

	t          testing.TB
	env        []string
	grp        *group
	config     string
	activation bool

	mu     sync.Mutex
	conn   *dbus.Conn
	daemon *exec.Cmd
}

// Desktop is a private desktop session: Bus plus an X display, the panel and
// the notification server.
type Desktop struct {
	*Bus
	// BusAddress is Bus.Address, named for callers that read it directly.
	BusAddress string
	// Display is the X display, e.g. ":99".
	Display string
	// Home is the temporary HOME; the XDG directories are inside it.
	Home string

	mu    sync.Mutex
	panel *exec.Cmd
}

// StartBus starts a private session bus, with HOME and the XDG directories
// in a temporary directory. It activates no service: nothing on the machine
// can answer for a name on it but what the test starts. It needs only
// dbus-daemon.
func StartBus(t testing.TB) *Bus {
	t.Helper()
	testenv.Need(t, "dbus-daemon")
	home := testenv.ShortTempDir(t)
	return startBus(t, home, baseEnv(home), newGroup(t), false)
}

// Start starts a private desktop: Xvfb on a free display, a session bus,
// xfce4-panel and dunst. It returns once the StatusNotifierWatcher and the
// notification server are on the bus.
func Start(t testing.TB) *Desktop {
	t.Helper()
	d := StartWithoutPanel(t)
	d.StartPanel()
	return d
}

// StartWithoutPanel is Start without xfce4-panel: the bus has no
// StatusNotifierWatcher until StartPanel, as on GNOME without the
// AppIndicator extension.
func StartWithoutPanel(t testing.TB) *Desktop {
	t.Helper()
	testenv.Need(t, "Xvfb", "dbus-daemon", "xfce4-panel", "dunst")
	home := testenv.ShortTempDir(t)
	grp := newGroup(t)

	display := startXvfb(t, grp)
	env := append(baseEnv(home), "DISPLAY="+display)
	if err := xfcepanel.WriteConfig(filepath.Join(home, ".config"), PanelHeight); err != nil {
		t.Fatal(err)
	}

	// The panel needs its settings daemon (xfconfd), which the bus starts
	// on demand: this bus activates services.
	b := startBus(t, home, env, grp, true)
	d := &Desktop{Bus: b, BusAddress: b.Address, Display: display, Home: home}

	writeDunstConfig(t, home)
	dunst := exec.Command("dunst")
	dunst.Env = b.env
	grp.start(t, "dunst", dunst)
	b.WaitForName(NotificationsName)
	return d
}

// baseEnv is the parent's environment with HOME and XDG_* pointing into
// home, and no session of the parent leaking in.
func baseEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "DISPLAY", k == "WAYLAND_DISPLAY", k == "DBUS_SESSION_BUS_ADDRESS",
			k == "SESSION_MANAGER", strings.HasPrefix(k, "XDG_"):
			continue
		}
		env = append(env, kv)
	}
	dirs := map[string]string{
		"XDG_CONFIG_HOME": ".config",
		"XDG_DATA_HOME":   ".local/share",
		"XDG_STATE_HOME":  ".local/state",
		"XDG_CACHE_HOME":  ".cache",
		"XDG_RUNTIME_DIR": "run",
	}
	for k, rel := range dirs {
		p := filepath.Join(home, rel)
		_ = os.MkdirAll(p, 0o700)
		env = append(env, k+"="+p)
	}
	return append(env, "HOME="+home, "XDG_DATA_DIRS=/usr/local/share:/usr/share", "XDG_CONFIG_DIRS=/etc/xdg", "NO_AT_BRIDGE=1")
}

func startXvfb(t testing.TB, grp *group) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// -displayfd: Xvfb picks a free display and writes its number to fd 3
	// once it accepts connections.
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0",
		fmt.Sprintf("%dx%dx24", ScreenWidth, ScreenHeight), "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	grp.start(t, "Xvfb", cmd)
	w.Close()
	line, err := readLine(r, testenv.WaitLimit)
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	if _, err := strconv.Atoi(line); err != nil {
		t.Fatalf("Xvfb reported display %q", line)
	}
	return ":" + line
}

// busConfig is the configuration of a private session bus: a socket of
// its own, anyone may own and see anything (a monitor included), and
// service activation only where asked for (%s).
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  %s
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus starts a bus whose socket and configuration are in dir.
func startBus(t testing.TB, dir string, env []string, grp *group, activation bool) *Bus {
	t.Helper()
	sock := filepath.Join(dir, "bus")
	b := &Bus{
		Address: "unix:path=" + sock, t: t, grp: grp,
		env:    append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+sock),
		config: filepath.Join(dir, "bus.conf"), activation: activation,
	}
	services := ""
	if activation {
		services = "<standard_session_servicedirs/>"
	}
	if err := os.WriteFile(b.config, fmt.Appendf(nil, busConfig, sock, services), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	// Registered after grp's cleanup, so it runs first: the connection
	// closes before the bus goes away.
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.conn.Close()
	})
	return b
}

// start runs the daemon and connects to it.
func (b *Bus) start() {
	b.t.Helper()
	os.Remove(strings.TrimPrefix(b.Address, "unix:path=")) // left by a daemon stopped before
	cmd := exec.Command("dbus-daemon", "--config-file="+b.config, "--nofork", "--nopidfile", "--print-address=1")
	cmd.Env = b.env
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	b.grp.start(b.t, "dbus-daemon", cmd)
	// The address is printed once the bus accepts connections.
	if addr, err := readLine(out, testenv.WaitLimit); err != nil || addr == "" {
		b.t.Fatalf("dbus-daemon did not print its address: %v", err)
	}
	go io.Copy(io.Discard, out)
	conn, err := dbus.Connect(b.Address)
	if err != nil {
		b.t.Fatalf("connect to the test bus: %v", err)
	}
	b.mu.Lock()
	b.conn, b.daemon = conn, cmd
	b.mu.Unlock()
}

// Restart stops the bus daemon, which breaks every connection to it, and
// starts a new one at the same Address, as when a session bus goes away
// and comes back. Conn is then a connection to the new bus.
func (b *Bus) Restart() {
	b.t.Helper()
	b.mu.Lock()
	old, daemon := b.conn, b.daemon
	b.mu.Unlock()
	old.Close()
	b.grp.stop(daemon)
	b.start()
}

// readLine reads one line from r within d.
func readLine(r io.Reader, d time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case x := <-ch:
		if x.s != "" {
			return x.s, nil
		}
		return "", x.err
	case <-time.After(d):
		return "", errors.New("timed out")
	}
}

// Env is the environment of a program in this session: the parent's,
// with HOME, XDG_*, DISPLAY (for a Desktop) and DBUS_SESSION_BUS_ADDRESS
// set.
func (b *Bus) Env() []string { return append([]string(nil), b.env...) }

// Conn is a connection to the bus for assertions, closed at cleanup.
func (b *Bus) Conn() *dbus.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conn
}

// Setenv points this test process at the bus (t.Setenv: restored after).
func (b *Bus) Setenv(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", b.Address)
}

// HasName reports whether a name has an owner on the bus.
func (b *Bus) HasName(name string) bool {
	var has bool
	err := b.Conn().BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
	return err == nil && has
}

// NameOwner is the unique name owning name, or "".
func (b *Bus) NameOwner(name string) string {
	var owner string
	if err := b.Conn().BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner); err != nil {
		return ""
	}
	return owner
}

// WaitForName polls until name has an owner, failing the test after
// testenv.WaitLimit.
func (b *Bus) WaitForName(name string) {
	b.t.Helper()
	testenv.Eventually(b.t, name+" on the bus", func() bool { return b.HasName(name) })
}

// StartPanel starts xfce4-panel and waits for its StatusNotifierWatcher.
func (d *Desktop) StartPanel() {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.panel != nil {
		d.t.Fatal("desktoptest: the panel is already running")
	}
	cmd := exec.Command("xfce4-panel", "--disable-wm-check")
	cmd.Env = d.env
	d.grp.start(d.t, "xfce4-panel", cmd)
	d.panel = cmd
	d.WaitForName(WatcherName)
}

// StopPanel stops xfce4-panel and waits until its watcher is gone.
func (d *Desktop) StopPanel() {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.panel == nil {
		return
	}
	d.grp.stop(d.panel)
	d.panel = nil
	testenv.Eventually(d.t, "the StatusNotifierWatcher to leave the bus with the panel", func() bool { return !d.HasName(WatcherName) })
}

// RestartPanel stops the panel and starts it again, as when a user
// restarts it or it crashes and the session restarts it.
func (d *Desktop) RestartPanel() {
	d.t.Helper()
	d.StopPanel()
	d.StartPanel()
}

// RegisteredItems is the watcher's RegisteredStatusNotifierItems: one
// "<bus name>/<object path>" (or bus name) per tray item.
func (b *Bus) RegisteredItems() ([]string, error) {
	v, err := b.Conn().Object(WatcherName, WatcherPath).GetProperty(WatcherName + ".RegisteredStatusNotifierItems")
	if err != nil {
		return nil, err
	}
	items, ok := v.Value().([]string)
	if !ok {
		return nil, fmt.Errorf("RegisteredStatusNotifierItems is %T", v.Value())
	}
	return items, nil
}

// Screenshot writes the whole screen as PNG to path.
func (d *Desktop) Screenshot(path string) error {
	return d.screenshot(path, image.Rectangle{})
}

// ScreenshotPanel writes the left part of the panel strip, where the tray
// icons are, as PNG to path.
func (d *Desktop) ScreenshotPanel(path string, width int) error {
	return d.screenshot(path, image.Rect(0, 0, width, PanelHeight))
}

func (d *Desktop) screenshot(path string, crop image.Rectangle) error {
	testenv.Need(d.t, "import")
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	defer cancel()
	tmp := path + ".tmp.png"
	cmd := exec.CommandContext(ctx, "import", "-window", "root", tmp)
	cmd.Env = d.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("import: %w: %s", err, out)
	}
	defer os.Remove(tmp)
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		return err
	}
	if !crop.Empty() {
		if s, ok := img.(interface {
			SubImage(image.Rectangle) image.Image
		}); ok {
			img = s.SubImage(crop.Intersect(img.Bounds()))
		}
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(out, img); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// group runs the test bed's processes, each in its own process group, and
// at cleanup stops them in reverse order of start: SIGTERM to the group,
// then SIGKILL, and waits for them. Then, if the test failed, it shows what
// they wrote to stderr.
type group struct {
	t    testing.TB
	mu   sync.Mutex
	cmds []*exec.Cmd
	wait map[*exec.Cmd]chan struct{}
	logs []*stderrLog
}

func newGroup(t testing.TB) *group {
	g := &group{t: t, wait: map[*exec.Cmd]chan struct{}{}}
	t.Cleanup(g.stopAll)
	return g
}

func (g *group) start(t testing.TB, name string, cmd *exec.Cmd) {
	t.Helper()
	// No Pdeathsig: it fires when the forking OS thread exits, which a
	// goroutine locked to its thread can cause at any time.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Stderr == nil {
		l := &stderrLog{name: name}
		cmd.Stderr = l
		g.mu.Lock()
		g.logs = append(g.logs, l)
		g.mu.Unlock()
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	g.mu.Lock()
	g.cmds = append(g.cmds, cmd)
	g.wait[cmd] = done
	g.mu.Unlock()
}

// stop ends one process and everything in its process group (programs the
// bus activated for it, such as xfconfd, included).
func (g *group) stop(cmd *exec.Cmd) {
	g.mu.Lock()
	done := g.wait[cmd]
	g.mu.Unlock()
	if done == nil {
		return
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// Leftovers in the group (children that ignored SIGTERM).
	if syscall.Kill(-pgid, 0) == nil {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		testenv.Poll(5*time.Second, func() bool { return syscall.Kill(-pgid, 0) != nil })
	}
	g.mu.Lock()
	delete(g.wait, cmd)
	g.mu.Unlock()
}

func (g *group) stopAll() {
	g.mu.Lock()
	cmds := append([]*exec.Cmd(nil), g.cmds...)
	g.mu.Unlock()
	for i := len(cmds) - 1; i >= 0; i-- {
		g.stop(cmds[i])
	}
	// Every program has exited: its stderr is complete.
	if g.t.Failed() || os.Getenv("DESKTOPTEST_VERBOSE") != "" {
		for _, l := range g.logs {
			if text := l.String(); text != "" {
				g.t.Logf("%s said on stderr:\n%s", l.name, text)
			}
		}
	}
}

// stderrLogLines bounds what a stderrLog keeps: the last lines say why a
// program failed.
const stderrLogLines = 200

// stderrLog keeps the last lines a program wrote to stderr.
type stderrLog struct {
	name  string
	mu    sync.Mutex
	lines []string
	part  []byte
}

func (l *stderrLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.part[:i]))
		l.part = l.part[i+1:]
		if len(l.lines) > stderrLogLines {
			l.lines = l.lines[len(l.lines)-stderrLogLines:]
		}
	}
	return len(p), nil
}

func (l *stderrLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	if len(l.part) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(l.part))
	}
	return strings.Join(lines, "\n")
}
