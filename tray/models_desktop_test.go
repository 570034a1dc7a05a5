//go:build linux

package tray

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

func (p *trayProc) catalog(router bool, items ...ModelItem) {
	p.t.Helper()
	b, _ := json.Marshal(map[string]any{"Router": router, "Items": items})
	p.send("catalog " + string(b))
}

// sub is a submenu entry as the test compares it: label and check mark.
func sub(it *desktoptest.Item) []string {
	var out []string
	for _, e := range it.VisibleSubMenu("Models") {
		mark := " "
		if e.Checked {
			mark = "x"
		}
		if !e.Enabled {
			mark = "-"
		}
		out = append(out, mark+" "+e.Label)
	}
	return out
}

// TestModelsSubmenu drives the Models submenu on a real panel: single mode
// checks model_id and a click chooses; router mode checks the loaded
// models, a click loads or unloads, "Unload all" is there and stays last
// as the list grows; an empty folder says so.
func TestModelsSubmenu(t *testing.T) {
	d := desktoptest.Start(t)
	p := startTray(t, d.Env(), "OCM_TRAY_TEST_CATALOG=1")
	it := p.item(d)
	it.WaitRegistered()
	tiny := ModelItem{ID: "tiny", Label: "tiny (288, Q8_0, 704 bytes)"}
	qwen := ModelItem{ID: "qwen", Label: "qwen (494M, Q4_K_M, 491.4 MB)"}
	fresh := ModelItem{ID: "fresh", Label: "fresh", Note: "is still being written (1.2 GB so far)"}
	want := func(what string, lines ...string) {
		t.Helper()
		if !testenv.Poll(testenv.WaitLimit, func() bool { return slices.Equal(sub(it), lines) }) {
			t.Fatalf("%s: submenu %q, want %q", what, sub(it), lines)
		}
	}

	p.catalog(false, tiny, qwen, fresh)
	p.update(status.Status{State: status.Running, PID: 7, Model: "tiny"})
	want("single mode", "x "+tiny.Label, "  "+qwen.Label, "  fresh — is still being written (1.2 GB so far)")
	if !slices.Contains(it.VisibleLabels(), "Models") {
		t.Fatalf("menu %q", it.VisibleLabels())
	}
	it.ClickSub("Models", qwen.Label)
	p.expect("action use-model qwen")

	p.catalog(true, tiny, qwen)
	p.update(status.Status{State: status.Running, PID: 8, Models: []status.ModelState{
		{ID: "qwen", State: status.ModelUnloaded}, {ID: "tiny", State: status.ModelLoaded}}})
	want("router mode", "x "+tiny.Label, "  "+qwen.Label, "  Unload all")
	it.ClickSub("Models", tiny.Label)
	p.expect("action unload-model tiny")
	it.ClickSub("Models", qwen.Label)
	p.expect("action load-model qwen")
	it.ClickSub("Models", "Unload all")
	p.expect("action unload-all")

	// States show; the list grows; "Unload all" stays last and works.
	more := ModelItem{ID: "big", Label: "big (7.6B, Q4_K_M, 4.7 GB)"}
	p.catalog(true, more, tiny, qwen)
	p.update(status.Status{State: status.Running, PID: 8, Models: []status.ModelState{
		{ID: "big", State: status.ModelFailed, LastError: "out of memory"}, {ID: "qwen", State: status.ModelLoading}, {ID: "tiny", State: status.ModelSleeping}}})
	want("router, grown", "  "+more.Label+" — failed to load", "x "+tiny.Label+" — sleeping", "x "+qwen.Label+" — loading", "  Unload all")
	it.ClickSub("Models", "Unload all")
	p.expect("action unload-all")
	it.ClickSub("Models", more.Label+" — failed to load")
	p.expect("action load-model big")

	p.catalog(false)
	want("empty folder", "- No models in the models folder")
	p.send("quit")
	p.expect("exited")
	p.waitExit()
}

func TestViewModels(t *testing.T) {
	items := []ModelItem{{ID: "a", Label: "a (1B)"}, {ID: "b", Label: "b", Note: "is incomplete: 1.2 of 4.7 GB"}}
	views, loaded := viewModels(items, false, status.Status{State: status.Stopped, Model: "b"})
	if fmt.Sprint(views) != fmt.Sprint([]itemView{
		{title: "a (1B)", tooltip: "Use this model (sets model_id)"},
		{title: "b — is incomplete: 1.2 of 4.7 GB", tooltip: "Use this model (sets model_id)", checked: true},
	}) || slices.Contains(loaded, true) {
		t.Fatalf("single: %+v %v", views, loaded)
	}
	// A router that is not running has nothing loaded, whatever it said.
	st := status.Status{State: status.Restarting, Models: []status.ModelState{{ID: "a", State: status.ModelLoaded}}}
	if views, loaded := viewModels(items, true, st); views[0].checked || loaded[0] || views[0].tooltip != "Load this model" {
		t.Fatalf("router not running: %+v", views)
	}
}
