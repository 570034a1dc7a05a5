//go:build linux

package tray

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/assets/icons"
	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

// item is the test's view of the helper's StatusNotifierItem.
type item struct {
	t     *testing.T
	d     *desktoptest.Desktop
	pid   int
	owner string // unique bus name of the helper's (systray's) connection
}

func (p *trayProc) item(d *desktoptest.Desktop) *item {
	p.t.Helper()
	it := &item{t: p.t, d: d, pid: p.cmd.Process.Pid}
	wk := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", it.pid)
	if !desktoptest.Poll(waitTimeout, func() bool { it.owner = d.NameOwner(wk); return it.owner != "" }) {
		p.t.Fatalf("the helper never took %s", wk)
	}
	return it
}

// registered reports whether the watcher lists the item.
func (it *item) registered() bool {
	items, err := it.d.RegisteredItems()
	if err != nil {
		return false
	}
	for _, s := range items {
		name, _, _ := strings.Cut(s, "/")
		if name == it.owner || name == fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", it.pid) {
			return true
		}
	}
	return false
}

func (it *item) waitRegistered() {
	it.t.Helper()
	if !desktoptest.Poll(waitTimeout, it.registered) {
		items, err := it.d.RegisteredItems()
		it.t.Fatalf("the item (%s) is not registered with the watcher: %q %v", it.owner, items, err)
	}
}

type pixmap struct {
	W, H int32
	Pix  []byte
}

func (it *item) obj() dbus.BusObject { return it.d.Conn().Object(it.owner, "/StatusNotifierItem") }

func (it *item) iconPixmap() []pixmap {
	it.t.Helper()
	var px []pixmap
	if err := it.obj().StoreProperty("org.kde.StatusNotifierItem.IconPixmap", &px); err != nil {
		it.t.Fatalf("IconPixmap: %v", err)
	}
	return px
}

func (it *item) tooltip() string {
	it.t.Helper()
	var tt struct {
		Name  string
		Icons []pixmap
		Title string
		Desc  string
	}
	if err := it.obj().StoreProperty("org.kde.StatusNotifierItem.ToolTip", &tt); err != nil {
		it.t.Fatalf("ToolTip: %v", err)
	}
	return tt.Title
}

// argb is what systray sends for an icon: ARGB32 in network byte order.
func argb(t *testing.T, b []byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r := img.Bounds()
	out := make([]byte, 0, r.Dx()*r.Dy()*4)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, ca := img.At(x, y).RGBA()
			out = append(out, byte(ca), byte(cr), byte(cg), byte(cb))
		}
	}
	return out
}

func (it *item) iconIs(state supervisor.State) bool {
	px := it.iconPixmap()
	return len(px) == 1 && bytes.Equal(px[0].Pix, argb(it.t, icons.PNG(state, iconSize)))
}

// menuEntry is one top-level dbusmenu item.
type menuEntry struct {
	id      int32
	label   string
	visible bool
	enabled bool
}

func (it *item) menu() []menuEntry {
	it.t.Helper()
	var rev uint32
	var layout struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	call := it.d.Conn().Object(it.owner, "/StatusNotifierItem/menu").Call(
		"com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{})
	if err := call.Store(&rev, &layout); err != nil {
		it.t.Fatalf("GetLayout: %v", err)
	}
	var out []menuEntry
	for _, c := range layout.Children {
		f, ok := c.Value().([]any)
		if !ok || len(f) < 2 {
			it.t.Fatalf("GetLayout: child %#v", c.Value())
		}
		props, _ := f[1].(map[string]dbus.Variant)
		e := menuEntry{id: f[0].(int32), visible: true, enabled: true}
		if v, ok := props["label"]; ok {
			e.label, _ = v.Value().(string)
		}
		if v, ok := props["visible"]; ok {
			e.visible, _ = v.Value().(bool)
		}
		if v, ok := props["enabled"]; ok {
			e.enabled, _ = v.Value().(bool)
		}
		if v, ok := props["type"]; ok && v.Value() == "separator" {
			continue
		}
		out = append(out, e)
	}
	return out
}

func (it *item) entry(label string) menuEntry {
	it.t.Helper()
	for _, e := range it.menu() {
		if e.label == label {
			return e
		}
	}
	it.t.Fatalf("no menu item %q in %+v", label, it.menu())
	return menuEntry{}
}

func (it *item) click(label string) {
	it.t.Helper()
	e := it.entry(label)
	call := it.d.Conn().Object(it.owner, "/StatusNotifierItem/menu").Call(
		"com.canonical.dbusmenu.Event", 0, e.id, "clicked", dbus.MakeVariant(""), uint32(0))
	if call.Err != nil {
		it.t.Fatalf("Event(%d, clicked): %v", e.id, call.Err)
	}
}

// newIcons subscribes to the item's NewIcon signals.
func (it *item) newIcons() (<-chan *dbus.Signal, func()) {
	it.t.Helper()
	conn := it.d.Conn()
	opts := []dbus.MatchOption{
		dbus.WithMatchSender(it.owner),
		dbus.WithMatchInterface("org.kde.StatusNotifierItem"),
		dbus.WithMatchMember("NewIcon"),
	}
	if err := conn.AddMatchSignal(opts...); err != nil {
		it.t.Fatal(err)
	}
	all := make(chan *dbus.Signal, 256)
	conn.Signal(all)
	out := make(chan *dbus.Signal, 256)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-all:
				if s != nil && s.Sender == it.owner && s.Name == "org.kde.StatusNotifierItem.NewIcon" {
					out <- s
				}
			case <-stop:
				return
			}
		}
	}()
	return out, func() {
		conn.RemoveSignal(all)
		_ = conn.RemoveMatchSignal(opts...)
		close(stop)
	}
}

var (
	running = supervisor.Status{State: supervisor.Running, PID: 4242, Model: "qwen2.5-0.5b-instruct-q4_k_m"}
	failed  = supervisor.Status{State: supervisor.FailedAfterMaxRestarts, Attempts: 3, Model: "qwen2.5-0.5b-instruct-q4_k_m",
		LastError: "exit status 134 (SIGABRT): gguf_init_from_file_impl: invalid magic characters"}
	stopped = supervisor.Status{State: supervisor.Stopped}
)

func TestTrayOnARealPanel(t *testing.T) {
	d := desktoptest.Start(t)
	p := startTray(t, d.Env())
	it := p.item(d)
	it.waitRegistered()

	// Icon and tooltip follow Update.
	p.update(running)
	if !desktoptest.Poll(waitTimeout, func() bool { return it.iconIs(supervisor.Running) }) {
		t.Fatal("IconPixmap never became the running icon")
	}
	runningPix := it.iconPixmap()[0].Pix
	if got, want := it.tooltip(), Tooltip(running); got != want {
		t.Errorf("tooltip %q, want %q", got, want)
	}
	p.update(failed)
	if !desktoptest.Poll(waitTimeout, func() bool { return it.iconIs(supervisor.FailedAfterMaxRestarts) }) {
		t.Fatal("IconPixmap never became the failed icon")
	}
	if bytes.Equal(it.iconPixmap()[0].Pix, runningPix) {
		t.Error("running and failed send the same pixels")
	}
	if !desktoptest.Poll(waitTimeout, func() bool { return it.tooltip() == Tooltip(failed) }) {
		t.Errorf("tooltip %q, want %q", it.tooltip(), Tooltip(failed))
	}

	shots := os.Getenv("OCM_TRAY_SCREENSHOTS") // e.g. docs/screenshots
	if shots == "" {
		shots = t.TempDir()
	}
	// The panel shows the icon: the red of the failed icon is on screen.
	screenshotWith(t, d, filepath.Join(shots, "tray-failed.png"), icons.PNG(supervisor.FailedAfterMaxRestarts, 32))

	// The menu: status line, Stop or Start, Restart, Open settings, Open logs, Quit.
	labels := func() []string {
		var l []string
		for _, e := range it.menu() {
			if e.visible {
				l = append(l, e.label)
			}
		}
		return l
	}
	wantMenu := func(toggle string, st supervisor.Status) bool {
		want := []string{MenuTitle(st), toggle, "Restart llama-server", "Open settings", "Open logs", "Quit"}
		return slices.Equal(labels(), want)
	}
	if !desktoptest.Poll(waitTimeout, func() bool { return wantMenu("Start llama-server", failed) }) {
		t.Fatalf("menu when failed: %q", labels())
	}
	if it.entry(MenuTitle(failed)).enabled {
		t.Error("the status line is enabled")
	}
	it.click("Start llama-server")
	p.expect("action start")

	p.update(running)
	if !desktoptest.Poll(waitTimeout, func() bool { return wantMenu("Stop llama-server", running) }) {
		t.Fatalf("menu when running: %q", labels())
	}
	screenshotWith(t, d, filepath.Join(shots, "tray-running.png"), icons.PNG(supervisor.Running, 32))
	it.click("Stop llama-server")
	p.expect("action stop")
	it.click("Restart llama-server")
	p.expect("action restart")
	it.click("Open settings")
	p.expect("action settings")
	it.click("Open logs")
	p.expect("action logs")

	p.update(stopped)
	if !desktoptest.Poll(waitTimeout, func() bool { return wantMenu("Start llama-server", stopped) }) {
		t.Fatalf("menu when stopped: %q", labels())
	}

	// Update -> NewIcon on the bus.
	sigs, unsubscribe := it.newIcons()
	var lat []time.Duration
	for i := 0; i < 20; i++ {
		st := running
		if i%2 == 1 {
			st = failed
		}
		start := time.Now()
		p.update(st)
		select {
		case <-sigs:
			lat = append(lat, time.Since(start))
		case <-time.After(waitTimeout):
			t.Fatalf("no NewIcon after Update %d", i)
		}
	}
	unsubscribe()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("Update -> NewIcon on the bus: min %v, median %v, max %v (n=%d, includes the pipe to the helper)",
		lat[0], lat[len(lat)/2], lat[len(lat)-1], len(lat))

	// The icon comes back after the panel restarts.
	d.RestartPanel()
	it.waitRegistered()
	if !it.iconIs(supervisor.FailedAfterMaxRestarts) {
		t.Error("after the panel restart the icon is not the last status's")
	}

	it.click("Quit")
	p.expect("action quit")
	p.send("quit")
	p.expect("exited")
	p.waitExit()
	if desktoptest.Poll(time.Second, it.registered) && d.HasName(it.owner) {
		t.Error("the item is still on the bus after Run returned")
	}
}

// screenshotWith waits until the panel strip shows pixels of the icon's
// main colour, then keeps that screenshot.
func screenshotWith(t *testing.T, d *desktoptest.Desktop, path string, icon []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(icon))
	if err != nil {
		t.Fatal(err)
	}
	c := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()*3/4) // inside the fill, off the "!"
	r0, g0, b0, _ := c.RGBA()
	ok := desktoptest.Poll(waitTimeout, func() bool {
		if err := d.ScreenshotPanel(path, 160); err != nil {
			t.Logf("screenshot: %v", err)
			return false
		}
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		defer f.Close()
		shot, err := png.Decode(f)
		if err != nil {
			return false
		}
		return countNear(shot, r0>>8, g0>>8, b0>>8) >= 6
	})
	if !ok {
		t.Errorf("the panel never showed the icon's colour; last screenshot in %s", path)
	}
}

func countNear(img image.Image, r, g, b uint32) int {
	n := 0
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr>>8, r) && near(cg>>8, g) && near(cb>>8, b) {
				n++
			}
		}
	}
	return n
}

func near(a, b uint32) bool { return a+24 >= b && b+24 >= a }

// TestTrayWaitsForAHost: no StatusNotifierWatcher (GNOME without the
// extension): the agent says so once, keeps going, and the icon appears
// when a host starts.
func TestTrayWaitsForAHost(t *testing.T) {
	d := desktoptest.StartWithoutPanel(t)
	p := startTray(t, d.Env())
	it := p.item(d)
	p.update(running)
	// The helper's log says why there is no icon, once.
	if !desktoptest.Poll(waitTimeout, func() bool { return countLines(p.log(), "no tray host") == 1 }) {
		t.Fatalf("no single 'no tray host' message in %q", p.log())
	}
	if got := countLines(p.log(), "AppIndicator"); got != 1 {
		t.Errorf("the install hint was logged %d times", got)
	}
	d.StartPanel()
	it.waitRegistered()
	if !desktoptest.Poll(waitTimeout, func() bool { return it.iconIs(supervisor.Running) }) {
		t.Error("the icon is not the running one once the host appeared")
	}
	if countLines(p.log(), "no tray host") != 1 {
		t.Error("the 'no tray host' message repeated")
	}
	p.send("quit")
	p.expect("exited")
	p.waitExit()
}

// TestTrayReregistersAfterSystrayWatcherDied reproduces the trap where a
// 2-argument signal on systray's shared connection (beeep's
// NotificationClosed) ends systray's re-registration goroutine: the tray's
// own watcher must still bring the icon back after a panel restart.
func TestTrayReregistersAfterSystrayWatcherDied(t *testing.T) {
	d := desktoptest.Start(t)
	p := startTray(t, d.Env(), "OCM_TRAY_TEST_POISON=1")
	it := p.item(d)
	it.waitRegistered()
	alive := func() bool {
		p.send("goroutines")
		select {
		case l := <-p.out:
			return l == "stayRegistered true"
		case <-time.After(waitTimeout):
			t.Fatal("helper did not answer")
			return false
		}
	}
	if !desktoptest.Poll(waitTimeout, alive) {
		t.Fatal("systray's re-registration goroutine never started")
	}
	emit := func() bool {
		if err := d.Conn().Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.NotificationClosed",
			uint32(1), uint32(2)); err != nil {
			t.Fatal(err)
		}
		return !alive()
	}
	if !desktoptest.Poll(waitTimeout, emit) {
		t.Fatal("the signal did not end systray's goroutine (the trap may be fixed upstream)")
	}
	p.update(running)
	d.RestartPanel()
	it.waitRegistered()
	if !desktoptest.Poll(waitTimeout, func() bool { return it.iconIs(supervisor.Running) }) {
		t.Error("wrong icon after re-registration")
	}
	p.send("quit")
	p.expect("exited")
	p.waitExit()
}

func countLines(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}
