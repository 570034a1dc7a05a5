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

	"github.com/OpenCircuitDev/ocm-tray/assets/icons"
	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// item waits until the helper exports its StatusNotifierItem.
func (p *trayProc) item(d *desktoptest.Desktop) *desktoptest.Item {
	p.t.Helper()
	return desktoptest.FindItem(p.t, d.Bus, p.Cmd.Process.Pid)
}

// iconIs reports whether the item sends state's icon, in one size.
func iconIs(t *testing.T, it *desktoptest.Item, state status.State) bool {
	t.Helper()
	return pixmapIs(t, it, icons.PNG(state, iconSize))
}

func pixmapIs(t *testing.T, it *desktoptest.Item, png []byte) bool {
	t.Helper()
	px := it.IconPixmap()
	return len(px) == 1 && bytes.Equal(px[0].Pix, desktoptest.ARGB32(t, png))
}

var (
	running = status.Status{State: status.Running, PID: 4242, Model: "qwen2.5-0.5b-instruct-q4_k_m", URL: "http://127.0.0.1:8080"}
	failed  = status.Status{State: status.FailedAfterMaxRestarts, Attempts: 3, Model: "qwen2.5-0.5b-instruct-q4_k_m",
		LastError: "exit status 134 (SIGABRT): gguf_init_from_file_impl: invalid magic characters"}
	stopped = status.Status{State: status.Stopped}
)

func TestTrayOnARealPanel(t *testing.T) {
	d := desktoptest.Start(t)
	p := startTray(t, d.Env())
	it := p.item(d)
	it.WaitRegistered()

	// Icon and tooltip follow Update.
	p.update(running)
	if !testenv.Poll(testenv.WaitLimit, func() bool { return iconIs(t, it, status.Running) }) {
		t.Fatal("IconPixmap never became the running icon")
	}
	runningPix := it.IconPixmap()[0].Pix
	if got, want := it.ToolTip().Title, status.Tooltip(running); got != want {
		t.Errorf("tooltip %q, want %q", got, want)
	}
	p.update(failed)
	if !testenv.Poll(testenv.WaitLimit, func() bool { return iconIs(t, it, status.FailedAfterMaxRestarts) }) {
		t.Fatal("IconPixmap never became the failed icon")
	}
	if bytes.Equal(it.IconPixmap()[0].Pix, runningPix) {
		t.Error("running and failed send the same pixels")
	}
	if !testenv.Poll(testenv.WaitLimit, func() bool { return it.ToolTip().Title == status.Tooltip(failed) }) {
		t.Errorf("tooltip %q, want %q", it.ToolTip().Title, status.Tooltip(failed))
	}

	shots := os.Getenv("OCM_TRAY_SCREENSHOTS") // e.g. docs/screenshots
	if shots == "" {
		shots = t.TempDir()
	}
	// The panel shows the icon: the red of the failed icon is on screen.
	screenshotWith(t, d, filepath.Join(shots, "tray-failed.png"), icons.PNG(status.FailedAfterMaxRestarts, 32))

	// The menu: status line, Open chat, Copy server URL, Stop or Start,
	// Restart, Open settings, Open logs, Quit.
	labels := it.VisibleLabels
	wantMenu := func(toggle string, st status.Status) bool {
		want := []string{status.MenuTitle(st), "Open chat", "Copy server URL", toggle, "Restart llama-server", "Open settings", "Open logs", "Quit"}
		return slices.Equal(labels(), want)
	}
	if !testenv.Poll(testenv.WaitLimit, func() bool { return wantMenu("Start llama-server", failed) }) {
		t.Fatalf("menu when failed: %q", labels())
	}
	if it.Entry(status.MenuTitle(failed)).Enabled {
		t.Error("the status line is enabled")
	}
	// Nothing runs: nothing to open or copy.
	if it.Entry("Open chat").Enabled || it.Entry("Copy server URL").Enabled {
		t.Error("Open chat or Copy server URL enabled while failed")
	}
	it.Click("Start llama-server")
	p.expect("action start")

	p.update(running)
	if !testenv.Poll(testenv.WaitLimit, func() bool { return wantMenu("Stop llama-server", running) }) {
		t.Fatalf("menu when running: %q", labels())
	}
	if !testenv.Poll(testenv.WaitLimit, func() bool { return it.Entry("Open chat").Enabled && it.Entry("Copy server URL").Enabled }) {
		t.Fatal("Open chat and Copy server URL stay disabled while running")
	}
	it.Click("Open chat")
	p.expect("action chat http://127.0.0.1:8080")
	it.Click("Copy server URL")
	p.expect("action copy http://127.0.0.1:8080")
	screenshotWith(t, d, filepath.Join(shots, "tray-running.png"), icons.PNG(status.Running, 32))
	it.Click("Stop llama-server")
	p.expect("action stop")
	it.Click("Restart llama-server")
	p.expect("action restart")
	it.Click("Open settings")
	p.expect("action settings")
	it.Click("Open logs")
	p.expect("action logs")

	p.update(stopped)
	if !testenv.Poll(testenv.WaitLimit, func() bool { return wantMenu("Start llama-server", stopped) }) {
		t.Fatalf("menu when stopped: %q", labels())
	}

	// Update -> NewIcon on the bus.
	sigs, unsubscribe := it.NewIcons()
	var lat []time.Duration
	for i := 0; i < 20; i++ {
		st := running
		if i%2 == 1 {
			st = failed
		}
		start := time.Now()
		p.update(st)
		testenv.Recv(t, sigs, fmt.Sprintf("NewIcon after Update %d", i))
		lat = append(lat, time.Since(start))
	}
	unsubscribe()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("Update -> NewIcon on the bus: min %v, median %v, max %v (n=%d, includes the pipe to the helper)",
		lat[0], lat[len(lat)/2], lat[len(lat)-1], len(lat))

	// The icon comes back after the panel restarts.
	d.RestartPanel()
	it.WaitRegistered()
	if !iconIs(t, it, status.FailedAfterMaxRestarts) {
		t.Error("after the panel restart the icon is not the last status's")
	}

	it.Click("Quit")
	p.expect("action quit")
	p.send("quit")
	p.expect("exited")
	p.waitExit()
	if testenv.Poll(time.Second, it.Registered) && d.HasName(it.Owner) {
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
	ok := testenv.Poll(testenv.WaitLimit, func() bool {
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
	if !testenv.Poll(testenv.WaitLimit, func() bool { return countLines(p.log(), "no tray host") == 1 }) {
		t.Fatalf("no single 'no tray host' message in %q", p.log())
	}
	if got := countLines(p.log(), "AppIndicator"); got != 1 {
		t.Errorf("the install hint was logged %d times", got)
	}
	d.StartPanel()
	it.WaitRegistered()
	if !testenv.Poll(testenv.WaitLimit, func() bool { return iconIs(t, it, status.Running) }) {
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
	it.WaitRegistered()
	alive := func() bool {
		p.send("goroutines")
		return testenv.Recv(t, p.out, "the helper's answer") == "stayRegistered true"
	}
	if !testenv.Poll(testenv.WaitLimit, alive) {
		t.Fatal("systray's re-registration goroutine never started")
	}
	emit := func() bool {
		if err := d.Conn().Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.NotificationClosed",
			uint32(1), uint32(2)); err != nil {
			t.Fatal(err)
		}
		return !alive()
	}
	if !testenv.Poll(testenv.WaitLimit, emit) {
		t.Fatal("the signal did not end systray's goroutine (the trap may be fixed upstream)")
	}
	p.update(running)
	d.RestartPanel()
	it.WaitRegistered()
	if !testenv.Poll(testenv.WaitLimit, func() bool { return iconIs(t, it, status.Running) }) {
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

// While running, the icon turns into its busy variant when a slot is
// processing and its sleeping variant when the model sleeps, and back; the
// tooltip and status line say it in words.
func TestTrayShowsActivity(t *testing.T) {
	d := desktoptest.Start(t)
	p := startTray(t, d.Env())
	it := p.item(d)
	it.WaitRegistered()

	idle := running
	idle.Activity = status.Activity{SlotsTotal: 4, RSSBytes: 5_400_000_000}
	busy := running
	busy.Activity = status.Activity{SlotsBusy: 1, SlotsTotal: 4, TokensPerSecond: 38.2, RSSBytes: 5_400_000_000}
	asleep := running
	asleep.Sleeping, asleep.Activity = true, status.Activity{SlotsTotal: 4, RSSBytes: 300_000_000}

	for _, c := range []struct {
		st   status.Status
		icon string
	}{{idle, "running"}, {busy, icons.RunningBusy}, {idle, "running"}, {asleep, icons.RunningSleeping}, {busy, icons.RunningBusy}} {
		p.update(c.st)
		if !testenv.Poll(testenv.WaitLimit, func() bool { return pixmapIs(t, it, icons.PNGFor(c.st, iconSize)) }) {
			t.Fatalf("icon never became %s", c.icon)
		}
		if icons.Name(c.st) != c.icon {
			t.Fatalf("icon name %s, want %s", icons.Name(c.st), c.icon)
		}
		if !testenv.Poll(testenv.WaitLimit, func() bool { return it.ToolTip().Title == status.Tooltip(c.st) }) {
			t.Fatalf("tooltip %q, want %q", it.ToolTip().Title, status.Tooltip(c.st))
		}
		if !testenv.Poll(testenv.WaitLimit, func() bool { return slices.Contains(it.VisibleLabels(), status.MenuTitle(c.st)) }) {
			t.Fatalf("menu %q lacks %q", it.VisibleLabels(), status.MenuTitle(c.st))
		}
	}
	if !strings.Contains(it.ToolTip().Title, "Generating on 1 of 4 slots, 38 tok/s, 5.4 GB") {
		t.Fatalf("tooltip %q", it.ToolTip().Title)
	}
	shots := os.Getenv("OCM_TRAY_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	screenshotWith(t, d, filepath.Join(shots, "tray-busy.png"), icons.PNGFor(busy, 32))
}
