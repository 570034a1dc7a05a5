//go:build linux

// Package desktoptest starts a throw-away Linux desktop for tests: a private
// X server (Xvfb), a private D-Bus session bus, xfce4-panel (whose systray
// plugin is both the StatusNotifierWatcher and the tray host) and dunst (a
// notification server), in temporary HOME and XDG directories. Everything
// is torn down when the test ends, leaving no process behind.
//
// A missing program skips the test, except when the environment has
// CI=true: there a skip would hide a broken test bed, so it fails. The
// Debian packages are: xvfb dbus dbus-x11 x11-apps imagemagick dunst
// libnotify-bin xfce4-panel, and xclip for the clipboard.
package desktoptest

import (
	"bufio"
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

// startTimeout bounds each wait for a program to come up.
const startTimeout = 20 * time.Second

// Bus is a private D-Bus session bus.
type Bus struct {
	// Address is the bus address (DBUS_SESSION_BUS_ADDRESS).
	Address string

	t    testing.TB
	env  []string
	conn *dbus.Conn
	grp  *group
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

// need skips (or, with CI=true, fails) the test when a program is missing.
func need(t testing.TB, progs ...string) {
	t.Helper()
	Need(t, "apt-get install xvfb dbus dbus-x11 x11-apps imagemagick dunst libnotify-bin xfce4-panel", progs...)
}

// Need skips the test when one of progs (a name on PATH, or an absolute
// path) is missing, saying which and how to install them (install, e.g.
// "apt-get install wine64"). With CI=true it fails instead: there a skip
// would hide a broken test bed.
func Need(t testing.TB, install string, progs ...string) {
	t.Helper()
	var missing []string
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("test bed incomplete: %s not found (Debian: %s)", strings.Join(missing, ", "), install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// StartBus starts a private session bus, with HOME and the XDG directories
// in a temporary directory (the bus gives them to the services it starts).
// It needs only dbus-daemon.
func StartBus(t testing.TB) *Bus {
	t.Helper()
	need(t, "dbus-daemon")
	home := shortTempDir(t)
	env := baseEnv(home)
	return startBus(t, env, newGroup(t))
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
	need(t, "Xvfb", "dbus-daemon", "xfce4-panel", "dunst")
	home := shortTempDir(t)
	grp := newGroup(t)

	display := startXvfb(t, grp)
	env := append(baseEnv(home), "DISPLAY="+display)
	writePanelConfig(t, home)

	b := startBus(t, env, grp)
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

// shortTempDir is a temporary directory with a short path: unix socket
// paths are limited to about 108 bytes and t.TempDir() can exceed that.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
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
	line, err := readLine(r, startTimeout)
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	if _, err := strconv.Atoi(line); err != nil {
		t.Fatalf("Xvfb reported display %q", line)
	}
	return ":" + line
}

func startBus(t testing.TB, env []string, grp *group) *Bus {
	t.Helper()
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1")
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	grp.start(t, "dbus-daemon", cmd)
	addr, err := readLine(out, startTimeout)
	if err != nil || addr == "" {
		t.Fatalf("dbus-daemon did not print its address: %v", err)
	}
	go io.Copy(io.Discard, out)
	b := &Bus{Address: addr, t: t, env: append(env, "DBUS_SESSION_BUS_ADDRESS="+addr), grp: grp}
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to the test bus: %v", err)
	}
	b.conn = conn
	// Registered after grp's cleanup, so it runs first: the connection
	// closes before the bus goes away.
	t.Cleanup(func() { conn.Close() })
	return b
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
func (b *Bus) Conn() *dbus.Conn { return b.conn }

// Setenv points this test process at the bus (t.Setenv: restored after).
func (b *Bus) Setenv(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", b.Address)
}

// HasName reports whether a name has an owner on the bus.
func (b *Bus) HasName(name string) bool {
	var has bool
	err := b.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
	return err == nil && has
}

// NameOwner is the unique name owning name, or "".
func (b *Bus) NameOwner(name string) string {
	var owner string
	if err := b.conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner); err != nil {
		return ""
	}
	return owner
}

// WaitForName polls until name has an owner, failing the test after a
// deadline.
func (b *Bus) WaitForName(name string) {
	b.t.Helper()
	if !Poll(startTimeout, func() bool { return b.HasName(name) }) {
		b.t.Fatalf("%s did not appear on the bus within %v", name, startTimeout)
	}
}

// Poll calls cond every few milliseconds until it is true or d passed, and
// reports whether it became true.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
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
	if !Poll(startTimeout, func() bool { return !d.HasName(WatcherName) }) {
		d.t.Fatal("the StatusNotifierWatcher stayed on the bus after the panel stopped")
	}
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
	v, err := b.conn.Object(WatcherName, WatcherPath).GetProperty(WatcherName + ".RegisteredStatusNotifierItems")
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
	need(d.t, "import")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
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
// then SIGKILL, and waits for them.
type group struct {
	mu   sync.Mutex
	cmds []*exec.Cmd
	wait map[*exec.Cmd]chan struct{}
}

func newGroup(t testing.TB) *group {
	g := &group{wait: map[*exec.Cmd]chan struct{}{}}
	t.Cleanup(g.stopAll)
	return g
}

func (g *group) start(t testing.TB, name string, cmd *exec.Cmd) {
	t.Helper()
	// No Pdeathsig: it fires when the forking OS thread exits, which a
	// goroutine locked to its thread can cause at any time.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Stderr == nil {
		cmd.Stderr = &logWriter{t: t, name: name}
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
		Poll(5*time.Second, func() bool { return syscall.Kill(-pgid, 0) != nil })
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
}

// logWriter sends a program's stderr to the test log, line by line, until
// the test ends.
type logWriter struct {
	t    testing.TB
	name string
	mu   sync.Mutex
	buf  []byte
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if os.Getenv("DESKTOPTEST_VERBOSE") != "" {
			w.t.Logf("%s: %s", w.name, line)
		}
	}
	return len(p), nil
}
