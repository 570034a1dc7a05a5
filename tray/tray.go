// Package tray shows the supervisor's status as a tray icon with a menu
// (docs/architecture.md, "Tray"), on top of fyne.io/systray.
//
// # Goroutines
//
// Run's goroutine is the UI loop: it is the only one that touches systray
// after start-up, so icon, tooltip and menu updates and systray.Quit are
// ordered (systray panics on SetIcon after Quit). It reads the status from
// the hub whenever the hub pokes it; pokes coalesce, so the tray only ever
// shows the latest status and never slows the publisher.
// A second goroutine does nothing but receive menu clicks (systray drops a
// click when nobody is waiting on its channel) and call the Actions.
// systray's own event loop runs on a third.
//
// # Without a tray
//
// On Linux the icon needs a D-Bus session bus and a StatusNotifierWatcher
// (the tray host). Without a bus Run does not start systray at all (it
// would panic at Quit and godbus would launch a stray bus); without a
// watcher the item waits and shows up once a host appears. Both are said
// once in the log, with what to do; the agent keeps supervising either way.
//
// systray keeps its state in package variables and cannot start twice:
// one process shows at most one Tray, once.
package tray

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"fyne.io/systray"

	"github.com/OpenCircuitDev/ocm-tray/assets/icons"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// ErrAlreadyRan is returned by Run when systray was already started in this
// process: it keeps global state and cannot be started again.
var ErrAlreadyRan = errors.New("tray: the tray was already shown once in this process")

// Actions are what the menu does. Each is called from the tray's click
// goroutine, one at a time, and must not block: post a message and return.
// A nil Action is ignored.
type Actions struct {
	Start, Stop, Restart, OpenSettings, OpenLogs, Quit func()
	// The Models submenu: choose a model (single mode), load or unload one
	// (router mode), unload every model.
	UseModel, LoadModel, UnloadModel func(id string)
	UnloadAll                        func()
	// OpenChat opens the server's web UI at url in the default browser;
	// CopyURL puts url on the desktop's clipboard. url is the running
	// server's base URL.
	OpenChat, CopyURL func(url string)
}

// Source is where the tray reads the status: *status.Hub.
type Source interface {
	Status() status.Status
	// Changes pokes (coalesced) on every change until release is called.
	Changes() (pokes <-chan struct{}, release func())
}

// Tray is the tray icon and its menu. Make one with New; show it with Run.
type Tray struct {
	src     Source
	actions Actions
	log     *slog.Logger

	// menu items, set in onReady before ready is closed, read after.
	items menuItems

	catalog Catalog   // the Models submenu's list (SetCatalog); nil: no submenu
	models  modelMenu // the Models submenu (models.go)
}

type menuItems struct {
	status, chat, copyURL, stop, start, restart, settings, logs, quit *systray.MenuItem
}

// systrayUsed is set once systray.Run was called in this process.
var systrayUsed atomic.Bool

// New makes a Tray that shows the status of src. It starts nothing. A nil
// logger discards.
func New(src Source, a Actions, log *slog.Logger) *Tray {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tray{src: src, actions: a, log: log, models: modelMenu{clicks: make(chan int, 1)}}
}

// quitWait bounds how long Run waits for systray to take the icon down.
const quitWait = 5 * time.Second

// Run shows the tray until ctx is done, then removes it and returns. When
// there is no way to show an icon (see the package doc) it says so once and
// just waits for ctx. It returns nil, or ErrAlreadyRan; it never panics.
func (t *Tray) Run(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			t.log.Error("tray: unexpected failure; the agent keeps running without the icon", "panic", r)
			<-ctx.Done()
			err = nil
		}
	}()

	h, herr := openHost(ctx, t.log)
	if herr != nil {
		t.log.Warn("no tray icon: " + herr.Error() +
			"; llama-server is still supervised: use `ocm-tray status` and the other commands, " +
			"or start ocm-tray inside a desktop session (or run it with --headless)")
		<-ctx.Done()
		return nil
	}
	defer h.close()
	if !systrayUsed.CompareAndSwap(false, true) {
		return ErrAlreadyRan
	}
	restoreLog := captureSystrayLog(t.log)
	defer restoreLog()

	ready := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		defer func() {
			if r := recover(); r != nil {
				t.log.Error("tray: the tray library failed", "panic", r)
			}
		}()
		// On Windows the window and its message loop must stay on one
		// thread; elsewhere this costs nothing.
		runtime.LockOSThread()
		systray.Run(func() { t.build(); close(ready) }, nil)
	}()

	select {
	case <-ready:
	case <-exited:
		t.log.Error("tray: the tray library stopped before it was ready; no icon")
		<-ctx.Done()
		return nil
	case <-ctx.Done():
		// onReady has started and finishes on its own; then quit.
		select {
		case <-ready:
		case <-exited:
			return nil
		}
	}

	clicksDone := make(chan struct{})
	clicksExited := make(chan struct{})
	t.models.done = clicksDone
	go t.clickLoop(clicksDone, clicksExited)
	defer func() {
		close(clicksDone)
		<-clicksExited
		t.models.fwd.Wait()
	}()

	t.loop(ctx, h)

	systray.Quit()
	select {
	case <-exited:
	case <-time.After(quitWait):
		t.log.Warn("tray: the icon did not go away in time")
	}
	return nil
}

// build adds the menu. It runs as systray's onReady, before the loop
// starts, so systray is still touched by one goroutine at a time.
func (t *Tray) build() {
	st := t.src.Status()
	systray.SetTitle("ocm-tray")
	systray.SetIcon(iconFor(st))
	systray.SetTooltip(status.Tooltip(st))
	m := &t.items
	m.status = systray.AddMenuItem(status.MenuTitle(st), "")
	m.status.Disable()
	m.chat = systray.AddMenuItem("Open chat", "Open the server's web UI in the browser")
	m.copyURL = systray.AddMenuItem("Copy server URL", "Copy the server's address to the clipboard")
	if !canChat(st) {
		m.chat.Disable()
		m.copyURL.Disable()
	}
	systray.AddSeparator()
	m.stop = systray.AddMenuItem("Stop llama-server", "Stop the server; it stays stopped until Start")
	m.start = systray.AddMenuItem("Start llama-server", "Start the server")
	m.restart = systray.AddMenuItem("Restart llama-server", "Stop the server and start it again")
	t.buildModels()
	systray.AddSeparator()
	m.settings = systray.AddMenuItem("Open settings", "Open the settings file")
	m.logs = systray.AddMenuItem("Open logs", "Open the log folder")
	systray.AddSeparator()
	m.quit = systray.AddMenuItem("Quit", "Stop llama-server and quit ocm-tray")
	if showStart(st.State) {
		m.stop.Hide()
	} else {
		m.start.Hide()
	}
}

// canChat reports whether Open chat and Copy server URL can act: while the
// server runs (not while it loads: its web UI answers 503 then).
func canChat(st status.Status) bool { return st.State == status.Running && st.URL != "" }

// showStart reports whether the menu offers Start (rather than Stop): when
// no child runs or is about to.
func showStart(s status.State) bool {
	return s == status.Stopped || s == status.FailedAfterMaxRestarts || s == status.NotSpawning
}

// clickLoop is always waiting on every item's channel, so no click is lost.
// Start and Stop are separate items of which one is shown: a click on a menu
// that was open while the state changed still does what its label said.
func (t *Tray) clickLoop(done <-chan struct{}, exited chan<- struct{}) {
	defer close(exited)
	m := &t.items
	withURL := func(f func(string)) func() {
		if f == nil {
			return nil
		}
		return func() {
			// The status of the moment of the click: the item is disabled
			// while no server runs, but the menu may have been open.
			if st := t.src.Status(); canChat(st) {
				f(st.URL)
			}
		}
	}
	for {
		select {
		case <-done:
			return
		case <-m.stop.ClickedCh:
			call(t, "stop", t.actions.Stop)
		case <-m.start.ClickedCh:
			call(t, "start", t.actions.Start)
		case <-m.restart.ClickedCh:
			call(t, "restart", t.actions.Restart)
		case <-m.chat.ClickedCh:
			call(t, "open chat", withURL(t.actions.OpenChat))
		case <-m.copyURL.ClickedCh:
			call(t, "copy url", withURL(t.actions.CopyURL))
		case <-m.settings.ClickedCh:
			call(t, "settings", t.actions.OpenSettings)
		case <-m.logs.ClickedCh:
			call(t, "logs", t.actions.OpenLogs)
		case <-m.quit.ClickedCh:
			call(t, "quit", t.actions.Quit)
		case <-m.status.ClickedCh: // disabled; drained all the same
		case code := <-t.models.clicks:
			t.modelClick(code)
		}
	}
}

// view is the UI loop's state: what it last gave systray, and the timer
// that refreshes the uptime. Only the loop touches it.
type view struct {
	t    *Tray
	host host
	dead bool // systray's connection is gone: touch nothing any more

	icon         string // icons.Name of what is shown
	tooltip      string
	title        string
	startVisible bool
	chatEnabled  bool

	tick *time.Timer // the next minute of uptime, or nil
}

// loop is the UI loop: it shows the latest status on every poke from the
// hub, shows it again in full when the tray host registers the item, and
// refreshes the uptime each minute.
func (t *Tray) loop(ctx context.Context, h host) {
	pokes, release := t.src.Changes()
	defer release()
	var catalogPokes <-chan struct{}
	if t.catalog != nil {
		var releaseCatalog func()
		catalogPokes, releaseCatalog = t.catalog.Changes()
		defer releaseCatalog()
	}
	first := t.src.Status()
	v := &view{t: t, host: h, startVisible: showStart(first.State), chatEnabled: canChat(first)}
	defer v.stopTick()
	// build showed the status of that moment; show it again in full once
	// the host has the item (see host.events).
	v.apply(true)
	events := h.events()
	for {
		select {
		case <-ctx.Done():
			return
		case <-pokes:
			v.apply(false)
		case <-catalogPokes:
			v.apply(false)
		case <-v.tickC():
			v.tick = nil
			v.apply(false)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev == itemRegistered {
				// The host has the item now; what was set before its
				// properties were exported may have been lost.
				v.apply(true)
			}
		}
	}
}

func (v *view) tickC() <-chan time.Time {
	if v.tick == nil {
		return nil
	}
	return v.tick.C
}

func (v *view) stopTick() {
	if v.tick != nil {
		v.tick.Stop()
		v.tick = nil
	}
}

// apply shows the hub's current status, touching only what changed unless
// force is set.
func (v *view) apply(force bool) {
	if v.dead {
		return
	}
	if !v.host.alive() {
		v.dead = true
		v.t.log.Warn("no tray icon: the D-Bus session bus went away; llama-server is still supervised (use `ocm-tray status`)")
		return
	}
	defer func() {
		// SetIcon panics when the bus connection is gone; never let that
		// take the agent down.
		if r := recover(); r != nil {
			v.dead = true
			v.t.log.Warn("no tray icon: lost the connection to the tray host", "panic", r)
		}
	}()
	st, now := v.t.src.Status(), time.Now()
	if name := icons.Name(st); force || name != v.icon {
		systray.SetIcon(iconFor(st))
		v.icon = name
	}
	if tip := status.TooltipAt(st, now); force || tip != v.tooltip {
		systray.SetTooltip(tip)
		v.tooltip = tip
	}
	m := &v.t.items
	if title := status.MenuTitleAt(st, now); force || title != v.title {
		m.status.SetTitle(title)
		v.title = title
	}
	if c := canChat(st); force || c != v.chatEnabled {
		if c {
			m.chat.Enable()
			m.copyURL.Enable()
		} else {
			m.chat.Disable()
			m.copyURL.Disable()
		}
		v.chatEnabled = c
	}
	if s := showStart(st.State); force || s != v.startVisible {
		if s {
			m.stop.Hide()
			m.start.Show()
		} else {
			m.start.Hide()
			m.stop.Show()
		}
		v.startVisible = s
	}
	v.t.applyModels(st, force)
	v.stopTick()
	if next := status.NextTick(st, now); !next.IsZero() {
		v.tick = time.NewTimer(next.Sub(now))
	}
}

// iconFor is the icon bytes systray wants on this platform: the state's,
// or while running its busy or sleeping variant.
func iconFor(st status.Status) []byte {
	if runtime.GOOS == "windows" {
		return icons.ICOFor(st)
	}
	return icons.PNGFor(st, iconSize)
}

// iconSize is the pixmap sent to the tray host, which scales it to the
// panel. 32 px reads well when scaled to 16-24 px and is sharp on a 2x panel.
const iconSize = 32

// hostEvent is something the tray host did.
type hostEvent int

const (
	itemRegistered hostEvent = iota + 1 // the host registered our item
)

// host is the desktop side of the tray: on Linux the session bus and the
// StatusNotifierWatcher. It keeps the item registered by itself.
type host interface {
	events() <-chan hostEvent
	// alive reports whether systray's connection still works.
	alive() bool
	close()
}
