//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
)

// TestMeasureModels measures, with the agent built without the race
// detector: the time from `ocm-tray use MODEL --wait` to running on the
// new model (single mode: stop + start; router: unload + load) against the
// server's own load time (FAKE_LLAMA_LOAD), and the idle CPU of a router
// agent (one /models read per 5 s health interval) against a single-mode
// one. It runs only with OCM_MEASURE=1 (OCM_MEASURE_WINDOW shortens the
// idle window, 60 s by default).
func TestMeasureModels(t *testing.T) {
	if os.Getenv("OCM_MEASURE") != "1" {
		t.Skip("OCM_MEASURE=1 is not set")
	}
	bin := filepath.Join(t.TempDir(), "ocm-tray")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const load = 500 * time.Millisecond
	window := 60 * time.Second
	if s := os.Getenv("OCM_MEASURE_WINDOW"); s != "" {
		if w, err := time.ParseDuration(s); err == nil {
			window = w
		}
	}
	for _, mode := range []string{"single", "router"} {
		e := newEnv(t)
		e.vars = append(e.vars, "FAKE_LLAMA_LOAD="+load.String())
		e.writeSettings("[models]\nmode = \""+mode+"\"\nmax_loaded = 1\n", true)
		e.editSettings(`health_check_interval = "100ms"`, `health_check_interval = "5s"`, `health_check_timeout = "1s"`, `health_check_timeout = "15s"`)
		fakellama.WriteModel(filepath.Join(e.models, "other.gguf"))
		a := e.startAgentWith(bin, e.vars, "--headless")
		e.waitState("running")
		if mode == "router" {
			e.waitModel("tiny", "loaded")
		}
		var took []time.Duration
		for i, next := range []string{"other", "tiny", "other", "tiny", "other", "tiny", "other", "tiny", "other", "tiny"} {
			start := time.Now()
			out, errOut, code := e.cli("use", "--wait", next)
			if code != 0 {
				t.Fatalf("%s switch %d: exit %d\n%s%s", mode, i, code, out, errOut)
			}
			took = append(took, time.Since(start))
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		t.Logf("%s mode: use MODEL --wait -> running on it: min %v, median %v, max %v (n=%d); the server's own load %v; median overhead %v",
			mode, took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond),
			len(took), load, (took[len(took)/2] - load).Round(time.Millisecond))

		pid := a.Cmd.Process.Pid
		cpu0, t0 := cpuNanos(t, pid), time.Now()
		time.Sleep(window) // the idle window itself
		cpu1, t1 := cpuNanos(t, pid), time.Now()
		t.Logf("%s mode idle over %v (5 s health interval): CPU %.4f%% (%.1f ms), VmRSS %s",
			mode, t1.Sub(t0).Round(time.Millisecond), 100*float64(cpu1-cpu0)/float64(t1.Sub(t0).Nanoseconds()),
			float64(cpu1-cpu0)/1e6, vmRSS(t, pid))
		e.cli("quit")
		a.Wait(t)
	}
}
