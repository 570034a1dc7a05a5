//go:build linux

package supervisor

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// Real children playing a current llama-server build: prefixed log lines,
// new ready lines, exit 1 on a bad model.

var era2026 = fakellama.EnvEra + "=" + fakellama.Era2026

// The child hands the run loop a token for a current build's ready lines,
// and only once the server answers: the probe they trigger finds it ready.
func TestRealCurrentBuildReadyLinesSignal(t *testing.T) {
	for _, era := range []string{fakellama.Era2025, fakellama.Era2026} {
		t.Run(era, func(t *testing.T) {
			cfg := realConfig(t, fakellama.EnvEra+"="+era, fakellama.EnvLoad+"=300ms")
			p, err := spawn(cfg.Command, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { p.Kill(); <-p.Exited() }()
			select {
			case <-p.Ready():
			case <-p.Exited():
				t.Fatalf("exited before a ready line: %+v", p.Exit())
			case <-time.After(testenv.WaitLimit):
				t.Fatal("no ready token")
			}
			if err := newHTTPProber().probe(t.Context(), healthURL("127.0.0.1", cfg.Port)); err != nil {
				t.Fatalf("probe after the ready line: %v", err)
			}
		})
	}
}

func TestRealCurrentBuildRunsAndStops(t *testing.T) {
	cfg := realConfig(t, era2026)
	sup, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, state(status.Running))
	sup.Stop()
	waitFor(t, sub, state(status.Stopped))
	if alive(st.PID) {
		t.Fatalf("child %d alive after stop", st.PID)
	}
}

// A file that is no model: no retry can fix it. Failed at once, with the
// cleaned-up cause in last_error and what to do in hint; one spawn only.
func TestRealUnfixableFailureGivesUpAtOnce(t *testing.T) {
	for _, era := range []string{fakellama.Era2025, fakellama.Era2026} {
		t.Run(era, func(t *testing.T) {
			cfg := realConfig(t, fakellama.EnvEra+"="+era)
			if err := os.WriteFile(cfg.Command.Args[1], []byte("this is not a model"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg.Policy.MaxRestarts = 3
			_, sub, stop := realRun(t, cfg)
			var seen []status.State
			st := waitFor(t, sub, func(st status.Status) bool {
				seen = append(seen, st.State)
				return st.State == status.FailedAfterMaxRestarts
			})
			if st.Attempts != 0 || st.Hint != hintNotGGUF {
				t.Fatalf("failed %+v after %v", st, seen)
			}
			how := map[string]string{fakellama.Era2025: "killed by SIGABRT", fakellama.Era2026: "exited with status 1"}[era]
			if want := how + ": invalid magic characters: 'this', expected 'GGUF'"; st.LastError != want {
				t.Fatalf("last_error %q, want %q", st.LastError, want)
			}
			for _, s := range seen {
				if s == status.Restarting {
					t.Fatalf("spent a restart on an unfixable failure: %v", seen)
				}
			}
			stop()
			log, _ := os.ReadFile(cfg.LogPath)
			if n := strings.Count(string(log), "invalid magic characters"); n != 1 {
				t.Fatalf("%d runs in the log, want 1:\n%s", n, log)
			}
		})
	}
}

func TestRealUnknownArchitecture(t *testing.T) {
	cfg := realConfig(t, era2026, fakellama.EnvLoadError+"="+fakellama.LoadErrorArch)
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, state(status.FailedAfterMaxRestarts))
	if st.LastError != "exited with status 1: error loading model: unknown model architecture: 'nosucharch'" || st.Hint != hintUnknownArch("'nosucharch'") {
		t.Fatalf("failed %+v", st)
	}
}

// Killed by SIGKILL with no error line, as the kernel's OOM killer does:
// the hint says so, and the budget is spent as for any crash.
func TestRealSilentSIGKILLHintsAtTheOOMKiller(t *testing.T) {
	cfg := realConfig(t, era2026, fakellama.EnvCrashAfter+"=50ms", fakellama.EnvCrashMode+"="+fakellama.CrashKill)
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, state(status.Restarting))
	if !strings.HasPrefix(st.LastError, "killed by SIGKILL") || st.Hint != hintOOMKiller {
		t.Fatalf("restarting %+v", st)
	}
}

func TestRealOutOfMemoryWhileLoadingIsRetried(t *testing.T) {
	cfg := realConfig(t, era2026, fakellama.EnvLoadError+"="+fakellama.LoadErrorOOM)
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, state(status.Restarting))
	if st.Hint != hintOOM || !strings.Contains(st.LastError, "failed to allocate buffer") {
		t.Fatalf("restarting %+v", st)
	}
}
