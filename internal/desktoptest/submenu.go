//go:build linux

package desktoptest

import (
	"github.com/godbus/dbus/v5"
)

// SubEntry is one menu entry with its check mark.
type SubEntry struct {
	MenuEntry
	Checked bool
}

// SubMenu is the submenu of the top-level entry labelled parent,
// separators left out, in menu order.
func (it *Item) SubMenu(parent string) []SubEntry {
	it.t.Helper()
	return it.layout(it.Entry(parent).ID)
}

// layout is the children of menu entry id (0: the root) as GetLayout
// gives them, separators left out, in menu order.
func (it *Item) layout(id int32) []SubEntry {
	it.t.Helper()
	var rev uint32
	var layout struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	err := it.menu().Call(MenuInterface+".GetLayout", 0, id, int32(-1), []string{}).Store(&rev, &layout)
	if err != nil {
		it.t.Fatalf("GetLayout(%d): %v", id, err)
	}
	var out []SubEntry
	for _, c := range layout.Children {
		f, ok := c.Value().([]any)
		if !ok || len(f) < 2 {
			it.t.Fatalf("GetLayout: child %#v", c.Value())
		}
		cid, ok := f[0].(int32)
		if !ok {
			it.t.Fatalf("GetLayout: child id %#v", f[0])
		}
		props, _ := f[1].(map[string]dbus.Variant)
		if v, ok := props["type"]; ok && v.Value() == "separator" {
			continue
		}
		e := SubEntry{MenuEntry: MenuEntry{ID: cid, Visible: true, Enabled: true}}
		if v, ok := props["label"]; ok {
			e.Label, _ = v.Value().(string)
		}
		if v, ok := props["visible"]; ok {
			e.Visible, _ = v.Value().(bool)
		}
		if v, ok := props["enabled"]; ok {
			e.Enabled, _ = v.Value().(bool)
		}
		if v, ok := props["toggle-state"]; ok {
			s, _ := v.Value().(int32)
			e.Checked = s == 1
		}
		out = append(out, e)
	}
	return out
}

// VisibleSubMenu is the visible entries of parent's submenu.
func (it *Item) VisibleSubMenu(parent string) []SubEntry {
	it.t.Helper()
	var out []SubEntry
	for _, e := range it.SubMenu(parent) {
		if e.Visible {
			out = append(out, e)
		}
	}
	return out
}

// ClickSub clicks the first visible entry labelled label in parent's
// submenu, as the tray host does; the test fails if there is none.
func (it *Item) ClickSub(parent, label string) {
	it.t.Helper()
	sub := it.SubMenu(parent)
	for _, e := range sub {
		if e.Label == label && e.Visible {
			if err := it.menu().Call(MenuInterface+".Event", 0, e.ID, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
				it.t.Fatalf("Event(%d %q, clicked): %v", e.ID, label, err)
			}
			return
		}
	}
	it.t.Fatalf("no visible item %q under %q in %+v", label, parent, sub)
}
