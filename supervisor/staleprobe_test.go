package supervisor

import (
	"github.com/OpenCircuitDev/ocm-tray/status"
	"testing"
	"time"
)

// A probe still in flight for a child that is gone must not swallow the
// probes asked for the new child meanwhile (its first scheduled probe and its
// ready marker): the new child would sit in starting, healthy, until
// startup_timeout (10 minutes by default) with nothing probing it.
func TestStaleProbeDoesNotSwallowTheNextChildsProbe(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		cfg := testConfig()
		h := startHarness(t, w, cfg)
		h.wantState(status.Running)
		old := w.current()
		old.setHung(true) // its next probe blocks for the whole probe timeout
		time.Sleep(cfg.Policy.HealthCheckInterval + time.Millisecond)
		h.sup.Restart() // the new child is ready at once; the old probe is still out
		if st := h.wantState(status.Starting); st.PID == old.pid {
			t.Fatal("restart kept the old child")
		}
		restartAt := time.Now()
		time.Sleep(cfg.Policy.probeTimeout()) // the stale probe ends
		st := h.wantState(status.Running)
		if d := st.Since.Sub(restartAt); d > cfg.Policy.probeTimeout() {
			t.Fatalf("running %v after the restart; want as soon as the stale probe ended (%v)", d, cfg.Policy.probeTimeout())
		}
		h.stop()
	})
}
