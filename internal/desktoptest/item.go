//go:build linux

package desktoptest

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// Names and paths of a StatusNotifierItem as fyne.io/systray exports it.
const (
	ItemInterface = "org.kde.StatusNotifierItem"
	ItemPath      = "/StatusNotifierItem"
	MenuPath      = "/StatusNotifierItem/menu"
	MenuInterface = "com.canonical.dbusmenu"
)

// Item is a test's view of a process's StatusNotifierItem on a Bus, read
// the way a tray host reads it. Its methods fail the test (t.Fatal) when
// the bus does not answer as an item must.
type Item struct {
	// PID is the process that exports the item.
	PID int
	// Owner is the unique bus name of the connection that exports the
	// item (systray's). It stays the same when the tray host restarts.
	Owner string

	t testing.TB
	b *Bus
}

// ItemName is the well-known name systray takes for the item of the
// process pid: org.kde.StatusNotifierItem-PID-1.
func ItemName(pid int) string { return fmt.Sprintf("%s-%d-1", ItemInterface, pid) }

// FindItem waits until process pid owns ItemName(pid) on b and returns its
// item, failing the test after a deadline. It does not wait for the tray
// host to list the item: see WaitRegistered.
func FindItem(t testing.TB, b *Bus, pid int) *Item {
	t.Helper()
	it := &Item{PID: pid, t: t, b: b}
	testenv.Eventually(t, fmt.Sprintf("process %d to take %s", pid, ItemName(pid)), func() bool {
		it.Owner = b.NameOwner(ItemName(pid))
		return it.Owner != ""
	})
	return it
}

// Registered reports whether the StatusNotifierWatcher lists the item
// (by its unique or its well-known name); false if there is no watcher.
func (it *Item) Registered() bool {
	items, err := it.b.RegisteredItems()
	if err != nil {
		return false
	}
	for _, s := range items {
		name, _, _ := strings.Cut(s, "/")
		if name == it.Owner || name == ItemName(it.PID) {
			return true
		}
	}
	return false
}

// WaitRegistered waits until the watcher lists the item, failing the test
// after a deadline.
func (it *Item) WaitRegistered() {
	it.t.Helper()
	if !testenv.Poll(testenv.WaitLimit, it.Registered) {
		items, err := it.b.RegisteredItems()
		it.t.Fatalf("the item (%s) is not registered with the watcher: %q %v", it.Owner, items, err)
	}
}

// Pixmap is one size of an icon as StatusNotifierItem sends it (a(iiay)):
// W×H pixels of ARGB32 in network byte order.
type Pixmap struct {
	W, H int32
	Pix  []byte
}

// ToolTip is the item's ToolTip property ((sa(iiay)ss)).
type ToolTip struct {
	IconName    string
	Icons       []Pixmap
	Title       string
	Description string
}

func (it *Item) obj() dbus.BusObject  { return it.b.Conn().Object(it.Owner, ItemPath) }
func (it *Item) menu() dbus.BusObject { return it.b.Conn().Object(it.Owner, MenuPath) }

// IconPixmap is the item's IconPixmap property, every size it sends.
func (it *Item) IconPixmap() []Pixmap {
	it.t.Helper()
	var px []Pixmap
	if err := it.obj().StoreProperty(ItemInterface+".IconPixmap", &px); err != nil {
		it.t.Fatalf("IconPixmap: %v", err)
	}
	return px
}

// ToolTip is the item's ToolTip property.
func (it *Item) ToolTip() ToolTip {
	it.t.Helper()
	var tt ToolTip
	if err := it.obj().StoreProperty(ItemInterface+".ToolTip", &tt); err != nil {
		it.t.Fatalf("ToolTip: %v", err)
	}
	return tt
}

// ARGB32 is a PNG icon's pixels as systray sends them in a Pixmap: ARGB32
// in network byte order, each channel the low byte of image/color's 16-bit
// premultiplied value (systray's convertToPixels). It fails the test if
// icon is not a PNG.
func ARGB32(t testing.TB, icon []byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(icon))
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

// MenuEntry is one top-level item of the item's com.canonical.dbusmenu
// menu. Visible and Enabled default to true, as in the dbusmenu spec.
type MenuEntry struct {
	ID      int32
	Label   string
	Visible bool
	Enabled bool
}

// Menu is the top-level menu layout (GetLayout of the root), separators
// left out, in menu order.
func (it *Item) Menu() []MenuEntry {
	it.t.Helper()
	var out []MenuEntry
	for _, e := range it.layout(0) {
		out = append(out, e.MenuEntry)
	}
	return out
}

// VisibleLabels is the labels of the visible menu entries, in menu order.
func (it *Item) VisibleLabels() []string {
	it.t.Helper()
	var l []string
	for _, e := range it.Menu() {
		if e.Visible {
			l = append(l, e.Label)
		}
	}
	return l
}

// Entry is the first menu entry labelled label, visible or not; the test
// fails if there is none.
func (it *Item) Entry(label string) MenuEntry {
	it.t.Helper()
	menu := it.Menu()
	for _, e := range menu {
		if e.Label == label {
			return e
		}
	}
	it.t.Fatalf("no menu item %q in %+v", label, menu)
	return MenuEntry{}
}

// Click clicks the first visible menu entry labelled label, as the tray
// host does (dbusmenu Event "clicked"); the test fails if there is none.
func (it *Item) Click(label string) {
	it.t.Helper()
	menu := it.Menu()
	for _, e := range menu {
		if e.Label == label && e.Visible {
			err := it.menu().Call(MenuInterface+".Event", 0, e.ID, "clicked", dbus.MakeVariant(""), uint32(0)).Err
			if err != nil {
				it.t.Fatalf("Event(%d %q, clicked): %v", e.ID, label, err)
			}
			return
		}
	}
	it.t.Fatalf("no visible menu item %q in %+v", label, menu)
}

// NewIcons subscribes to the item's NewIcon signal and delivers the time
// each one arrived (buffered). stop ends the subscription; it may be called
// more than once and is called when the test ends.
func (it *Item) NewIcons() (arrivals <-chan time.Time, stop func()) {
	it.t.Helper()
	conn := it.b.Conn()
	opts := []dbus.MatchOption{
		dbus.WithMatchSender(it.Owner),
		dbus.WithMatchInterface(ItemInterface),
		dbus.WithMatchMember("NewIcon"),
	}
	if err := conn.AddMatchSignal(opts...); err != nil {
		it.t.Fatal(err)
	}
	all := make(chan *dbus.Signal, 256)
	conn.Signal(all)
	out := make(chan time.Time, 256)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case s := <-all:
				if s != nil && s.Sender == it.Owner && s.Name == ItemInterface+".NewIcon" {
					select {
					case out <- time.Now():
					case <-quit:
						return
					}
				}
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			conn.RemoveSignal(all)
			_ = conn.RemoveMatchSignal(opts...)
			close(quit)
			<-done
		})
	}
	it.t.Cleanup(stop)
	return out, stop
}
