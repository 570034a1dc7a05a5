//go:build unix

package settings

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// fakeServer writes a shell script that answers --help with the given
// flags listed, counting its runs in a file beside it.
func fakeServer(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	p := filepath.Join(dir, "llama-server")
	script := "#!/bin/sh\necho run >> " + p + ".runs\ncat <<'EOF'\n-m,    --model FNAME    model path\n--port PORT    port\n" +
		strings.Join(flags, "  something\n") + "  something\nEOF\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func runs(t *testing.T, bin string) int {
	b, _ := os.ReadFile(bin + ".runs")
	return strings.Count(string(b), "run")
}

func TestBinaryCapabilities(t *testing.T) {
	dir := t.TempDir()
	bin := fakeServer(t, dir, "--models-dir PATH", "--models-max N", "--sleep-idle-seconds SECONDS", "--metrics")
	if c := BinaryCapabilities(bin); c != (Capabilities{Router: true, Sleep: true, Metrics: true}) {
		t.Fatalf("%+v", c)
	}
	BinaryCapabilities(bin)
	if n := runs(t, bin); n != 1 {
		t.Fatalf("--help ran %d times for one build, want once", n)
	}
	// A new build at the same path is asked again.
	fakeServer(t, dir, "--models-maxi N")
	later := time.Now().Add(time.Minute)
	os.Chtimes(bin, later, later)
	if c := BinaryCapabilities(bin); c != (Capabilities{}) {
		t.Fatalf("after the update: %+v", c)
	}

	// A help that hangs means single only, after helpTimeout.
	hang := filepath.Join(dir, "hang")
	os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755)
	defer func(d time.Duration) { helpTimeout = d }(helpTimeout)
	helpTimeout = 200 * time.Millisecond
	start := time.Now()
	if c := BinaryCapabilities(hang); c != (Capabilities{}) {
		t.Fatalf("hang: %+v", c)
	}
	if d := time.Since(start); d > testenv.WaitLimit { // the hang is 60 s
		t.Fatalf("a hanging --help held us %v", d)
	}
	if c := BinaryCapabilities(filepath.Join(dir, "missing")); c != (Capabilities{}) {
		t.Fatalf("missing: %+v", c)
	}
}

func TestBuildRouterAndSleep(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	models := filepath.Join(home, "models")
	os.Mkdir(models, 0o755)
	if err := gguftest.Tiny().Write(filepath.Join(models, "tiny.gguf")); err != nil {
		t.Fatal(err)
	}
	full := fakeServer(t, t.TempDir(), "--models-dir PATH", "--sleep-idle-seconds N")
	old := fakeServer(t, t.TempDir())
	paths := Paths{ConfigFile: filepath.Join(home, "settings.toml"), ModelsDir: models}
	base := Defaults()
	base.Backend, base.ModelID, base.InferenceBaseURL = BackendLlamaCpp, "tiny", "http://127.0.0.1:9000"

	t.Run("router", func(t *testing.T) {
		s := base
		s.LlamaServerBinary, s.Models = full, ModelsSettings{Mode: ModeRouter, MaxLoaded: 2, SleepAfter: Duration(90 * time.Second)}
		cfg := BuildConfig(s, paths)
		want := []string{"--models-dir", models, "--models-max", "2", "--host", "127.0.0.1", "--port", "9000", "-c", "4096", "--sleep-idle-seconds", "90"}
		if cfg.Command == nil || !slices.Equal(cfg.Command.Args, want) || !cfg.Router || cfg.Autoload != "tiny" || cfg.WatchSleep || cfg.Warning != "" {
			t.Fatalf("%+v (refusal %q)", cfg.Command, cfg.Refusal)
		}
		s.ModelID = ""
		if cfg := BuildConfig(s, paths); cfg.Command == nil || cfg.Autoload != "" {
			t.Fatalf("router without model_id: %+v %q", cfg.Command, cfg.Refusal)
		}
	})
	t.Run("router, model_id still downloading", func(t *testing.T) {
		os.WriteFile(filepath.Join(models, "fresh.gguf"), gguftest.Tiny().Header(), 0o644)
		s := base
		s.ModelID, s.LlamaServerBinary, s.Models.Mode = "fresh", full, ModeRouter
		cfg, d := Build(s, paths)
		if cfg.Command == nil || cfg.Autoload != "" || d.Settle <= 0 {
			t.Fatalf("%+v autoload %q settle %v", cfg.Command, cfg.Autoload, d.Settle)
		}
	})
	t.Run("router refused", func(t *testing.T) {
		s := base
		s.LlamaServerBinary, s.Models.Mode = old, ModeRouter
		if cfg := BuildConfig(s, paths); cfg.Refusal != NoRouterReason {
			t.Fatalf("refusal %q", cfg.Refusal)
		}
		s.LlamaServerBinary, s.ModelsDir = full, filepath.Join(home, "nowhere")
		if cfg := BuildConfig(s, paths); cfg.Refusal != "models folder ~/nowhere not found: create it and put .gguf files in it, or set models_dir in ~/settings.toml" {
			t.Fatalf("refusal %q", cfg.Refusal)
		}
	})
	t.Run("single with sleep", func(t *testing.T) {
		s := base
		s.LlamaServerBinary, s.Models.SleepAfter = full, Duration(10*time.Minute)
		cfg := BuildConfig(s, paths)
		want := []string{"-m", filepath.Join(models, "tiny.gguf"), "--host", "127.0.0.1", "--port", "9000", "-c", "4096", "--sleep-idle-seconds", "600"}
		if !slices.Equal(cfg.Command.Args, want) || !cfg.WatchSleep || cfg.Router {
			t.Fatalf("%q watch %v", cfg.Command.Args, cfg.WatchSleep)
		}
	})
	t.Run("sleep without support", func(t *testing.T) {
		s := base
		s.LlamaServerBinary, s.Models.SleepAfter = old, Duration(10*time.Minute)
		cfg := BuildConfig(s, paths)
		if slices.Contains(cfg.Command.Args, "--sleep-idle-seconds") || cfg.WatchSleep ||
			cfg.Warning != "sleep_after is set, but this llama-server has no --sleep-idle-seconds: the model stays loaded; update llama.cpp" {
			t.Fatalf("%q warning %q", cfg.Command.Args, cfg.Warning)
		}
	})
	t.Run("--help once per build", func(t *testing.T) {
		// Without sleep_after there is still --metrics to decide (the live
		// view): the help is read once, and not again for the same build.
		bin := fakeServer(t, t.TempDir(), "--sleep-idle-seconds N")
		s := base
		s.LlamaServerBinary = bin
		BuildConfig(s, paths)
		BuildConfig(s, paths)
		if n := runs(t, bin); n != 1 {
			t.Fatalf("--help ran %d times, want once", n)
		}
	})
}

// A `--help` that hangs with a child of its own: the timeout ends the
// child too, nothing is left running.
func TestHangingHelpLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	bin := filepath.Join(dir, "hang-with-child")
	script := "#!/bin/sh\nsleep 60 &\necho $! > " + pidFile + "\nwait\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { helpTimeout = d }(helpTimeout)
	helpTimeout = 500 * time.Millisecond
	if c := BinaryCapabilities(bin); c != (Capabilities{}) {
		t.Fatalf("hang: %+v", c)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the script never started its child: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	testenv.Eventually(t, "the --help's child gone", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
}
