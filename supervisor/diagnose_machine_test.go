package supervisor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// A failure retrying cannot fix gives up at once, with the restarts spent
// so far in attempts, and carries its hint; a fixable one spends the budget
// and carries its hint on restarting.
func TestPermanentFailureGivesUpAtOnce(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		cfg := testConfig()
		cfg.Policy.MaxRestarts = 3
		h := startHarness(t, w, cfg)
		h.wantState(status.Starting)
		// A fixable failure first: restart 1, hint shown.
		w.current().exitWith(diagnosis{lastError: "exited with status 1: out of memory", hint: hintOOM})
		st := h.wantState(status.Restarting)
		if st.Attempt != 1 || st.Hint != hintOOM {
			t.Fatalf("restarting %+v", st)
		}
		time.Sleep(cfg.Policy.Backoff(1))
		h.wantState(status.Starting)
		// Then one that no retry fixes: failed now, after 1 restart, not 3.
		w.current().exitWith(diagnosis{lastError: "exited with status 1: error: invalid argument: --bogus", hint: hintUnknownArg("--bogus"), permanent: true})
		st = h.wantState(status.FailedAfterMaxRestarts)
		if st.Attempts != 1 || st.MaxRestarts != 3 || st.Hint != hintUnknownArg("--bogus") || st.LastError != "exited with status 1: error: invalid argument: --bogus" {
			t.Fatalf("failed %+v", st)
		}
		time.Sleep(time.Hour)
		if w.spawned() != 2 {
			t.Fatalf("spawned %d children, want 2", w.spawned())
		}
		// Start tries again: the user may have fixed the settings.
		h.sup.Start()
		st = h.wantState(status.Starting)
		if st.Hint != "" {
			t.Fatalf("hint %q outlived the failure", st.Hint)
		}
		h.stop()
	})
}

func TestPortConflictHasAHint(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.setPortBusy(true)
		h := startHarness(t, w, testConfig())
		st := h.wantState(status.NotSpawning)
		if !st.PortConflict() || st.Hint != HintPortTaken(8080) {
			t.Fatalf("not_spawning %+v", st)
		}
		h.stop()
	})
}

// A server still loading when startup_timeout fires is told to wait longer;
// one that never answered is not.
func TestStartupTimeoutHint(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		cfg := testConfig()
		h := startHarness(t, w, cfg)
		h.wantState(status.Starting)
		time.Sleep(cfg.Policy.StartupTimeout)
		st := h.wantState(status.Restarting)
		if st.Hint != hintStartTimeout {
			t.Fatalf("restarting %+v", st)
		}
		h.stop()
	})
}

// Current builds print two ready lines; the first may come a moment before
// /health turns 200. Every ready line probes at once, so the second one
// still finds the server ready without waiting for the poll schedule.
func TestEveryReadyLineProbes(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		h := startHarness(t, w, testConfig())
		h.wantState(status.Starting)
		time.Sleep(time.Minute) // the poll is at its slowest now
		p := w.current()
		p.ready <- struct{}{} // "llama_server: model loaded", /health still 503
		synctest.Wait()
		h.wantState(status.Starting)
		p.setHealthy(true)
		p.ready <- struct{}{} // "llama_server: listening on http://..."
		start := time.Now()
		synctest.Wait()
		h.wantState(status.Running)
		if d := h.last().Since.Sub(start); d != 0 {
			t.Fatalf("second ready line to running took %v of fake time, want 0", d)
		}
		h.stop()
	})
}
