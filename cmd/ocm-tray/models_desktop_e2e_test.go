//go:build linux

package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// checkedModels is the IDs the Models submenu checks, and every ID shown.
func checkedModels(it *desktoptest.Item) (checked, shown []string) {
	for _, e := range it.VisibleSubMenu("Models") {
		id, _, _ := strings.Cut(e.Label, " ")
		shown = append(shown, id)
		if e.Checked {
			checked = append(checked, id)
		}
	}
	return checked, shown
}

func waitChecked(t *testing.T, it *desktoptest.Item, want ...string) {
	t.Helper()
	if !testenv.Poll(testenv.WaitLimit, func() bool { c, _ := checkedModels(it); return slices.Equal(c, want) }) {
		c, s := checkedModels(it)
		t.Fatalf("Models submenu checks %q of %q, want %q", c, s, want)
	}
}

// label is the submenu label of model id.
func label(t *testing.T, it *desktoptest.Item, id string) string {
	t.Helper()
	for _, e := range it.VisibleSubMenu("Models") {
		if strings.HasPrefix(e.Label, id+" ") || e.Label == id {
			return e.Label
		}
	}
	t.Fatalf("no model %q in the Models submenu", id)
	return ""
}

// TestDesktopModelsMenuRouter: on the real agent in router mode, the
// Models submenu lists the folder, checks what the router has loaded, and
// loads, unloads and unloads all on click.
func TestDesktopModelsMenuRouter(t *testing.T) {
	d := desktoptest.Start(t)
	e := newEnv(t)
	e.writeSettings("[models]\nmode = \"router\"\nmax_loaded = 2\n", true)
	fakellama.WriteModel(filepath.Join(e.models, "other.gguf"))
	a := e.startTrayAgent(agentBin, d.Env())
	it := agentItem(t, d, a)
	e.waitModel("tiny", "loaded")
	waitChecked(t, it, "tiny")
	if got := label(t, it, "tiny"); got != "tiny (288, Q8_0, 704 bytes)" {
		t.Fatalf("label %q", got)
	}
	if _, shown := checkedModels(it); !slices.Equal(shown, []string{"other", "tiny", "Unload"}) {
		t.Fatalf("submenu %q", shown)
	}

	it.ClickSub("Models", label(t, it, "other"))
	e.waitModel("other", "loaded")
	waitChecked(t, it, "other", "tiny")

	it.ClickSub("Models", label(t, it, "tiny"))
	e.waitModel("tiny", "unloaded")
	waitChecked(t, it, "other")

	it.ClickSub("Models", "Unload all")
	e.waitModel("other", "unloaded")
	waitChecked(t, it)
}

// TestDesktopModelsMenuSingle: in single mode a click chooses the model
// (model_id written, the server switched); with the settings file invalid
// the click changes nothing and a notification says why.
func TestDesktopModelsMenuSingle(t *testing.T) {
	d := desktoptest.Start(t)
	mon := startMonitor(t, d)
	e := newEnv(t)
	e.writeSettings("", true)
	fakellama.WriteModel(filepath.Join(e.models, "other.gguf"))
	a := e.startTrayAgent(agentBin, d.Env())
	it := agentItem(t, d, a)
	e.waitState("running")
	waitChecked(t, it, "tiny")

	it.ClickSub("Models", label(t, it, "other"))
	testenv.Eventually(e.t, "running on other", func() bool {
		st := e.status()
		return st["state"] == "running" && st["model"] == "other"
	})
	waitChecked(t, it, "other")
	if !strings.Contains(string(mustRead(t, e.settings)), `model_id = "other"`) {
		t.Fatal("model_id not written")
	}

	e.editSettings(`max_backoff = "50ms"`, `max_backoff = "nonsense"`)
	testenv.Eventually(e.t, "settings_error", func() bool { _, ok := e.status()["settings_error"]; return ok })
	before := string(mustRead(t, e.settings))
	it.ClickSub("Models", label(t, it, "tiny"))
	ns := mon.waitNotified(0, "ocm-tray: cannot use tiny")
	if body := ns[len(ns)-1].body; !strings.Contains(body, "has errors") || !strings.Contains(body, "max_backoff") {
		t.Fatalf("notification body %q", body)
	}
	if string(mustRead(t, e.settings)) != before {
		t.Fatal("the invalid file was rewritten")
	}
	if st := e.status(); st["model"] != "other" {
		t.Fatalf("status %v", st)
	}
}
