//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// TestDownloadToFinalNameStartsOnceSettled writes a model straight to its
// final name in bursts, as curl -o or a browser without a .part file does.
// While it grows the agent must say so and start nothing; once the writes
// stop, it must start the server on its own: no file event comes after the
// last write.
func TestDownloadToFinalNameStartsOnceSettled(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", false)
	e.startAgent()
	e.waitState("not_spawning")

	model := gguftest.Model("dl", gguftest.FileTypeF16, gguftest.Tensor{Type: gguftest.F32, Dims: []uint64{64 << 10}})
	whole := filepath.Join(t.TempDir(), "whole.gguf")
	if err := model.Write(whole); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(e.models, "tiny.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// Four bursts, each followed by a pause longer than the watcher's
	// debounce, so the agent looks at the file between them.
	chunk := (len(data) + 3) / 4
	sawWriting := false
	saysWriting := func(st map[string]any) bool {
		r, _ := st["reason"].(string)
		return strings.Contains(r, "tiny.gguf is still being written (") && strings.HasSuffix(r, " so far)")
	}
	for i := 0; i < len(data); i += chunk {
		if _, err := f.Write(data[i:min(i+chunk, len(data))]); err != nil {
			t.Fatal(err)
		}
		testenv.Poll(700*time.Millisecond, func() bool { // polling another process
			st := e.status()
			if pidOf(st) != 0 || st["state"] == "starting" || st["state"] == "running" {
				t.Fatalf("started on a file still being written: %v", st)
			}
			sawWriting = sawWriting || saysWriting(st)
			return false // the pause is the download's, not a wait for the agent
		})
	}
	// Until the file has settled the agent says why it waits; on a loaded
	// machine that may first show after the last burst.
	var st map[string]any
	testenv.Eventually(t, "running", func() bool {
		st = e.status()
		sawWriting = sawWriting || saysWriting(st)
		return st["state"] == "running"
	})
	if !sawWriting {
		t.Fatal("never said the model file is still being written")
	}
	if st["model"] != "tiny" {
		t.Fatalf("status %v", st)
	}
}

// modelsOf runs `ocm-tray models --json`.
func (e *env) modelsOf() []map[string]any {
	e.t.Helper()
	out, errOut, code := e.cli("models", "--json")
	if code != 0 {
		e.t.Fatalf("models --json: exit %d: %s", code, errOut)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		e.t.Fatalf("models --json printed %q: %v", out, err)
	}
	return list
}

func TestModelsCommand(t *testing.T) {
	e := newEnv(t)
	if out, _, code := e.cli("models"); code != 0 || !strings.HasPrefix(out, "No models in ") {
		t.Fatalf("empty folder: exit %d\n%s", code, out)
	}
	e.writeSettings("", true)
	q := gguftest.Model("qwen", gguftest.FileTypeQ4_KM, gguftest.Tensor{Type: gguftest.Q4_K, Dims: []uint64{4096, 1000}})
	if err := q.Write(filepath.Join(e.models, "qwen-q4.gguf")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if err := gguftest.Tiny().Write(filepath.Join(e.models, fmt.Sprintf("big-%05d-of-00002.gguf", i))); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(e.models, "broken.gguf"), []byte("<html>"), 0o644)
	gguftest.Settle(filepath.Join(e.models, "broken.gguf"))

	out, _, code := e.cli("models")
	if code != 0 {
		t.Fatalf("models: exit %d", code)
	}
	if strings.Contains(out, " \n") {
		t.Errorf("trailing spaces:\n%q", out)
	}
	for _, want := range []string{
		"Models in ~/data/ocm/models (* is model_id):",
		"  MODEL", "SIZE", "PARAMS", "QUANT",
		"* tiny ", "704 bytes", "Q8_0",
		"  qwen-q4 ", "4.1M ", "Q4_K_M",
		"  big-00001-of-00002 (2 parts) ", "1.4 kB",
		"  broken ", "is not a GGUF file",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("models lacks %q:\n%s", want, out)
		}
	}
	list := e.modelsOf()
	ids := []string{}
	for _, m := range list {
		ids = append(ids, m["id"].(string))
	}
	if strings.Join(ids, " ") != "big-00001-of-00002 broken qwen-q4 tiny" {
		t.Fatalf("ids %v", ids)
	}
	q4 := list[2]
	if q4["params"] != float64(4096000) || q4["quant"] != "Q4_K_M" || q4["size"] != float64(q.Size()) || q4["parts"] != float64(1) ||
		q4["current"] != false || q4["path"] != filepath.Join(e.models, "qwen-q4.gguf") || q4["architecture"] != "llama" {
		t.Fatalf("qwen-q4: %v", q4)
	}
	if list[3]["current"] != true || list[1]["problem"] != "is not a GGUF file" {
		t.Fatalf("list %v", list)
	}
}

// TestUseWithoutAgent: the file is edited in place, only model_id changes;
// an unknown model names the folder and changes nothing.
func TestUseWithoutAgent(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("# my comment\n", true)
	gguftest.Tiny().Write(filepath.Join(e.models, "other.gguf"))
	before := string(mustRead(t, e.settings))

	_, errOut, code := e.cli("use", "nope")
	if code != 1 || !strings.Contains(errOut, `no model "nope" in ~/data/ocm/models`) {
		t.Fatalf("use nope: exit %d, %q", code, errOut)
	}
	if got := string(mustRead(t, e.settings)); got != before {
		t.Fatalf("use of a missing model changed the file:\n%s", got)
	}
	out, errOut, code := e.cli("use", "other.gguf")
	if code != 0 || !strings.Contains(out, `model_id = "other" in ~/config/ocm/settings.toml; no agent is running`) {
		t.Fatalf("use other: exit %d, %q %q", code, out, errOut)
	}
	want := strings.Replace(before, `model_id = "tiny"`, `model_id = "other"`, 1)
	if got := string(mustRead(t, e.settings)); got != want {
		t.Fatalf("file after use:\n%s\nwant\n%s", got, want)
	}
	if _, _, code := e.cli("use", "--wait", "tiny"); code != 3 {
		t.Fatalf("use --wait without an agent: exit %d, want 3", code)
	}
	if _, errOut, code := e.cli("unload"); code != 3 || !strings.Contains(errOut, "no agent is running") {
		t.Fatalf("unload without an agent: exit %d %q", code, errOut)
	}
}

// TestUseSwitchesTheServer: with an agent running one model, `use --wait`
// writes model_id and returns once a new server runs the other model.
func TestUseSwitchesTheServer(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	gguftest.Tiny().Write(filepath.Join(e.models, "other.gguf"))
	e.startAgent()
	st := e.waitState("running")
	pid := pidOf(st)
	before := string(mustRead(t, e.settings))

	out, errOut, code := e.cli("use", "--wait", "other")
	if code != 0 {
		t.Fatalf("use --wait other: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `model_id = "other" in ~/config/ocm/settings.toml: llama-server switches to it`) ||
		!strings.HasPrefix(lines[1], "llama-server running (pid ") {
		t.Fatalf("use --wait printed:\n%s", out)
	}
	st = e.status()
	if st["state"] != "running" || st["model"] != "other" || pidOf(st) == pid {
		t.Fatalf("status after use: %v", st)
	}
	if alive(pid) {
		t.Fatal("the old server still runs")
	}
	if got, want := string(mustRead(t, e.settings)), strings.Replace(before, `"tiny"`, `"other"`, 1); got != want {
		t.Fatalf("settings after use:\n%s", got)
	}
	if list := e.modelsOf(); list[0]["id"] != "other" || list[0]["current"] != true {
		t.Fatalf("models after use: %v", list)
	}

	// Nothing to do in single mode: unload says what it needs.
	if _, errOut, code := e.cli("unload", "other"); code != 1 || !strings.Contains(errOut, `needs router mode: set mode = "router" under [models]`) {
		t.Fatalf("unload in single mode: exit %d %q", code, errOut)
	}
}

// TestUseRefusedOnInvalidSettings: an invalid file is never rewritten, and
// the running server stays.
func TestUseRefusedOnInvalidSettings(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	gguftest.Tiny().Write(filepath.Join(e.models, "other.gguf"))
	e.startAgent()
	pid := pidOf(e.waitState("running"))
	bad := strings.Replace(string(mustRead(t, e.settings)), "[supervisor]", "[supervisor]\nmax_restarts = 1000", 1)
	os.WriteFile(e.settings, []byte(bad), 0o644)
	testenv.Eventually(e.t, "settings_error", func() bool { _, ok := e.status()["settings_error"]; return ok })

	_, errOut, code := e.cli("use", "other")
	if code != 1 || !strings.Contains(errOut, "has errors") || !strings.Contains(errOut, "max_restarts") {
		t.Fatalf("use on an invalid file: exit %d %q", code, errOut)
	}
	if got := string(mustRead(t, e.settings)); got != bad {
		t.Fatalf("the invalid file was rewritten:\n%s", got)
	}
	if st := e.status(); pidOf(st) != pid || st["model"] != "tiny" {
		t.Fatalf("status %v", st)
	}
}

// routerStates is the status's models as id -> state.
func routerStates(st map[string]any) map[string]string {
	out := map[string]string{}
	list, _ := st["models"].([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		id, _ := mm["id"].(string)
		state, _ := mm["state"].(string)
		out[id] = state
	}
	return out
}

func (e *env) waitModel(id, state string) map[string]any {
	e.t.Helper()
	var st map[string]any
	testenv.Eventually(e.t, id+" "+state, func() bool {
		st = e.status()
		return routerStates(st)[id] == state
	})
	return st
}

// TestRouterMode runs the agent on the fake llama-server's router through
// the CLI: model_id loaded at start, the status's models kept current, use
// and unload, a model that fails to load while the router stays up, and
// model_id loaded again after a restart.
func TestRouterMode(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("[models]\nmode = \"router\"\nmax_loaded = 1\n", true)
	fakellama.WriteModel(filepath.Join(e.models, "other.gguf"))
	fakellama.WriteBrokenModel(filepath.Join(e.models, "broken.gguf"))
	e.startAgent()
	st := e.waitState("running")
	routerPID := pidOf(st)
	st = e.waitModel("tiny", "loaded")
	if got := routerStates(st); len(got) != 3 || got["other"] != "unloaded" || got["broken"] != "unloaded" {
		t.Fatalf("models %v", st["models"])
	}
	args := strings.ReplaceAll(string(mustRead(t, fmt.Sprintf("/proc/%d/cmdline", routerPID))), "\x00", " ")
	if !strings.Contains(args, " --models-dir "+e.models+" --models-max 1 --host 127.0.0.1 --port ") || strings.Contains(args, " -m ") {
		t.Fatalf("the router's argv: %s", args)
	}

	// models --json carries each model's state.
	for _, m := range e.modelsOf() {
		want := map[string]string{"tiny": "loaded", "other": "unloaded", "broken": "unloaded"}[m["id"].(string)]
		if m["state"] != want {
			t.Fatalf("models --json: %v", m)
		}
	}

	// use: written as model_id and loaded; max_loaded 1 unloads tiny.
	out, errOut, code := e.cli("use", "--wait", "other")
	if code != 0 || !strings.Contains(out, `model_id = "other" in ~/config/ocm/settings.toml: the router loads it`) {
		t.Fatalf("use --wait other: exit %d\n%s%s", code, out, errOut)
	}
	st = e.status()
	if s := routerStates(st); s["other"] != "loaded" || pidOf(st) != routerPID || st["model"] != "other" {
		t.Fatalf("after use: %v", st)
	}
	e.waitModel("tiny", "unloaded")

	// unload one, then all.
	if out, errOut, code := e.cli("unload", "other"); code != 0 || strings.TrimSpace(out) != "asked the router to unload other" {
		t.Fatalf("unload other: exit %d %q %q", code, out, errOut)
	}
	e.waitModel("other", "unloaded")
	if _, errOut, code := e.cli("unload", "nope"); code != 1 || !strings.Contains(errOut, `no model "nope" in ~/data/ocm/models`) {
		t.Fatalf("unload nope: exit %d %q", code, errOut)
	}
	e.cli("use", "tiny")
	e.waitModel("tiny", "loaded")
	if out, _, code := e.cli("unload"); code != 0 || strings.TrimSpace(out) != "asked the router to unload every model" {
		t.Fatalf("unload: exit %d %q", code, out)
	}
	e.waitModel("tiny", "unloaded")

	// A model that fails to load: failed with why; the router stays up.
	if _, errOut, code := e.cli("use", "broken"); code != 0 {
		t.Fatalf("use broken: %s", errOut)
	}
	st = e.waitModel("broken", "failed")
	for _, m := range st["models"].([]any) {
		if mm := m.(map[string]any); mm["id"] == "broken" {
			if le, _ := mm["last_error"].(string); !strings.HasPrefix(le, "exited with status 134: ") || !strings.Contains(le, "unknown model architecture: 'nosucharch'") {
				t.Fatalf("broken: %v", mm)
			}
		}
	}
	if st["state"] != "running" || pidOf(st) != routerPID {
		t.Fatalf("the router did not stay up: %v", st)
	}

	// After a restart the router loads model_id again.
	e.cli("use", "tiny")
	if _, _, code := e.cli("restart"); code != 0 {
		t.Fatal("restart failed")
	}
	testenv.Eventually(e.t, "a new router with tiny loaded", func() bool {
		st = e.status()
		return pidOf(st) != routerPID && routerStates(st)["tiny"] == "loaded"
	})
}

// TestRouterModeRefusedWithoutRouter: a llama-server without router mode
// is refused by the gate, with the reason.
func TestRouterModeRefusedWithoutRouter(t *testing.T) {
	e := newEnv(t)
	e.vars = append(e.vars, fakellama.EnvNoRouter+"=1")
	e.writeSettings("[models]\nmode = \"router\"\n", true)
	e.startAgent()
	st := e.waitState("not_spawning")
	if st["reason"] != `this llama-server has no router mode (no --models-dir); update llama.cpp or set mode = "single"` {
		t.Fatalf("status %v", st)
	}
	out, _, _ := e.cli("check")
	if !strings.Contains(out, "gate: refuse: this llama-server has no router mode") {
		t.Fatalf("check:\n%s", out)
	}
}

// TestSleepAfter: sleep_after reaches llama-server as --sleep-idle-seconds
// and the status says "sleeping": true while the model sleeps; a request
// wakes it. A build without the flag gets a warning and no flag.
func TestSleepAfter(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("[models]\nsleep_after = \"1s\"\n", true)
	e.startAgent()
	st := e.waitState("running")
	args := strings.ReplaceAll(string(mustRead(t, fmt.Sprintf("/proc/%d/cmdline", pidOf(st)))), "\x00", " ")
	if !strings.Contains(args, " --sleep-idle-seconds 1") {
		t.Fatalf("argv %q", args)
	}
	testenv.Eventually(e.t, "sleeping", func() bool { return e.status()["sleeping"] == true })
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/completion", e.port), "application/json", strings.NewReader(`{"prompt":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testenv.Eventually(e.t, "awake", func() bool { _, asleep := e.status()["sleeping"]; return !asleep })
	if out, _, _ := e.cli("status"); !strings.Contains(out, "running") {
		t.Fatalf("status: %s", out)
	}
}

func TestSleepAfterUnsupported(t *testing.T) {
	e := newEnv(t)
	e.vars = append(e.vars, fakellama.EnvNoSleep+"=1")
	e.writeSettings("[models]\nsleep_after = \"1s\"\n", true)
	e.startAgent()
	st := e.waitState("running")
	if w, _ := st["warning"].(string); !strings.Contains(w, "sleep_after is set, but this llama-server has no --sleep-idle-seconds") {
		t.Fatalf("status %v", st)
	}
}
