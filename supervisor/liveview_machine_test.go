package supervisor

import (
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

func liveConfig() Config {
	cfg := testConfig()
	cfg.LiveView = true
	return cfg
}

// An idle server costs one read beside the probe (/slots); /metrics is read
// only after a slot was seen busy, once; what the server does not offer is
// not asked again.
func TestLiveViewReadsWhatItNeeds(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		w.live = liveAnswer{slots: readOK, slotsTotal: 4, slotsBusy: 0, metrics: readOK, tps: 38.24, rss: 5_400_000_000}
		cfg := liveConfig()
		h := startHarness(t, w, cfg)
		st := h.wantState(status.Running)
		// The first reading comes with running, not an interval later.
		if want := (status.Activity{SlotsTotal: 4, RSSBytes: 5_400_000_000}); st.Activity != want {
			t.Fatalf("activity %+v, want %+v", st.Activity, want)
		}
		if st.URL != "http://127.0.0.1:8080" {
			t.Fatalf("url %q", st.URL)
		}
		// Off the readings' grid: a sleep that ends with a reading would
		// race it.
		time.Sleep(time.Millisecond)
		idle := func(q liveQuery) bool { return q.slots && !q.metrics && q.mem != nil }
		for _, q := range w.takeQueries() {
			if !idle(q) {
				t.Fatalf("idle query %+v", q)
			}
		}
		time.Sleep(3 * cfg.Policy.HealthCheckInterval)
		qs := w.takeQueries()
		if len(qs) != 3 {
			t.Fatalf("%d readings in 3 intervals, want 3", len(qs))
		}
		for _, q := range qs {
			if !idle(q) {
				t.Fatalf("idle query %+v", q)
			}
		}

		// A slot gets busy: shown at the next reading; the reading after
		// asks /metrics, and shows the server's speed.
		w.setLive(liveAnswer{slots: readOK, slotsTotal: 4, slotsBusy: 1, metrics: readOK, tps: 0, rss: 5_400_000_000})
		time.Sleep(cfg.Policy.HealthCheckInterval)
		st = h.wantState(status.Running)
		if st.Activity.SlotsBusy != 1 || st.Activity.TokensPerSecond != 0 {
			t.Fatalf("busy activity %+v", st.Activity)
		}
		// Still busy, nothing finished: /metrics says 0, which is no speed.
		time.Sleep(cfg.Policy.HealthCheckInterval)
		st = h.wantState(status.Running)
		if st.Activity.TokensPerSecond != 0 {
			t.Fatalf("a zero reading shown as a speed: %+v", st.Activity)
		}
		w.setLive(liveAnswer{slots: readOK, slotsTotal: 4, slotsBusy: 0, metrics: readOK, tps: 38.24, rss: 5_400_000_000})
		time.Sleep(cfg.Policy.HealthCheckInterval)
		st = h.wantState(status.Running)
		if want := (status.Activity{SlotsTotal: 4, TokensPerSecond: 38.2, RSSBytes: 5_400_000_000}); st.Activity != want {
			t.Fatalf("activity %+v, want %+v", st.Activity, want)
		}
		qs = w.takeQueries()
		if len(qs) != 3 || qs[0].metrics || !qs[1].metrics || !qs[2].metrics {
			t.Fatalf("queries while busy %+v", qs)
		}
		// Idle again and read: back to /slots alone, the speed kept.
		time.Sleep(2 * cfg.Policy.HealthCheckInterval)
		for _, q := range w.takeQueries() {
			if !idle(q) {
				t.Fatalf("query after the metrics read %+v", q)
			}
		}
		if st := h.wantState(status.Running); st.Activity.TokensPerSecond != 38.2 {
			t.Fatalf("speed forgotten: %+v", st.Activity)
		}
		h.stop()
	})
}

func TestLiveViewStopsAskingWhatTheServerLacks(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		// --no-slots and no --metrics: /slots and /metrics answer 501.
		w.live = liveAnswer{slots: unsupported, metrics: unsupported, rss: 27_000_000}
		cfg := liveConfig()
		h := startHarness(t, w, cfg)
		st := h.wantState(status.Running)
		if want := (status.Activity{RSSBytes: 27_000_000}); st.Activity != want {
			t.Fatalf("activity %+v, want %+v", st.Activity, want)
		}
		w.takeQueries()
		time.Sleep(2 * cfg.Policy.HealthCheckInterval)
		for _, q := range w.takeQueries() {
			if q.wants() {
				t.Fatalf("asked again: %+v", q)
			}
		}
		// A new child may be another binary: ask it again.
		h.sup.Restart()
		h.wantState(status.Running)
		if qs := w.takeQueries(); len(qs) == 0 || !qs[len(qs)-1].slots {
			t.Fatalf("new child not asked: %+v", qs)
		}
		h.stop()
	})
}

// Readings that change nothing a person sees publish nothing: memory moves
// a little all the time.
func TestLiveViewPublishesOnlyChanges(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		w.live = liveAnswer{slots: readOK, slotsTotal: 1, rss: 100 << 20}
		cfg := liveConfig()
		h := startHarness(t, w, cfg)
		h.wantState(status.Running)
		n := len(h.eventsCopy())
		w.setLive(liveAnswer{slots: readOK, slotsTotal: 1, rss: 100<<20 + 512<<10}) // +0.5 %
		time.Sleep(5 * cfg.Policy.HealthCheckInterval)
		w.setLive(liveAnswer{slots: readOK, slotsTotal: 1, rss: 100<<20 + 1000<<10}) // +1 %, under 1 MiB
		time.Sleep(5 * cfg.Policy.HealthCheckInterval)
		h.wantState(status.Running)
		if got := len(h.eventsCopy()); got != n {
			t.Fatalf("%d events for readings that changed nothing shown", got-n)
		}
		w.setLive(liveAnswer{slots: readOK, slotsTotal: 1, rss: 200 << 20})
		time.Sleep(cfg.Policy.HealthCheckInterval)
		if st := h.wantState(status.Running); st.Activity.RSSBytes != 200<<20 || len(h.eventsCopy()) != n+1 {
			t.Fatalf("activity %+v after %d events", st.Activity, len(h.eventsCopy())-n)
		}
		h.stop()
	})
}

func TestLiveViewOffAndOutsideRunning(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		w.live = liveAnswer{slots: readOK, slotsTotal: 4, rss: 1 << 30}
		cfg := testConfig() // LiveView off
		h := startHarness(t, w, cfg)
		st := h.wantState(status.Running)
		time.Sleep(3 * cfg.Policy.HealthCheckInterval)
		if qs := w.takeQueries(); len(qs) != 0 || st.Activity.Known() {
			t.Fatalf("live view off, yet %d queries, activity %+v", len(qs), st.Activity)
		}
		if st.URL == "" {
			t.Fatal("no url while running")
		}
		h.stop()
	})
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		w.live = liveAnswer{slots: readOK, slotsTotal: 4, rss: 1 << 30}
		h := startHarness(t, w, liveConfig())
		h.wantState(status.Running)
		w.current().exit("killed by SIGSEGV")
		st := h.wantState(status.Restarting)
		if st.Activity.Known() || st.URL != "" {
			t.Fatalf("restarting carries the dead child's activity %+v or url %q", st.Activity, st.URL)
		}
		h.stop()
	})
}
