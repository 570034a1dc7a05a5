package supervisor

import (
	"errors"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// healthyAtOnce models a tiny model: ready as soon as it starts, announcing
// it with the "starting the main loop" line.
func healthyAtOnce(p *fakeProc) {
	p.healthy = true
	p.ready <- struct{}{}
}

func TestStartsAndBecomesRunning(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		h := startHarness(t, w, testConfig())
		st := h.wantState(status.Running)
		if st.PID != w.current().pid || st.Model != "x" {
			t.Fatalf("running status %+v", st)
		}
		h.stop()
		if got := h.states(); !slices.Equal(got, []status.State{status.Starting, status.Running, status.Stopped}) {
			t.Fatalf("states %v", got)
		}
		if p := w.current(); p.terms != 1 || p.kills != 0 {
			t.Fatalf("stop sent %d SIGTERM, %d SIGKILL; want 1, 0", p.terms, p.kills)
		}
	})
}

// 503 "Loading model" is progress: the supervisor keeps polling, the fast
// schedule notices readiness quickly, and the ready marker at once.
func TestLoadingIsProgressAndReadyMarkerProbesAtOnce(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		h := startHarness(t, w, testConfig())
		h.wantState(status.Starting)
		time.Sleep(2 * time.Minute) // a long model load: still starting
		h.wantState(status.Starting)
		p := w.current()
		p.setHealthy(true)
		p.ready <- struct{}{} // "starting the main loop"
		start := time.Now()
		synctest.Wait()
		h.wantState(status.Running)
		if d := h.last().Since.Sub(start); d != 0 {
			t.Fatalf("ready marker to running took %v of fake time, want 0", d)
		}
		h.stop()
	})
}

func TestCrashLoopSpendsExactlyMaxRestarts(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		t.Run("max_restarts="+string(rune('0'+n)), func(t *testing.T) {
			run(t, func(t *testing.T) {
				w := newWorld()
				cfg := testConfig()
				cfg.Policy.MaxRestarts = n
				h := startHarness(t, w, cfg)
				for i := 0; i <= n; i++ {
					h.wantState(status.Starting)
					w.current().exit("exited with status 1: boom")
					synctest.Wait()
					if i < n {
						st := h.wantState(status.Restarting)
						if st.Attempt != i+1 || st.MaxRestarts != n || st.LastError != "exited with status 1: boom" {
							t.Fatalf("restarting %+v, want attempt %d/%d", st, i+1, n)
						}
						time.Sleep(cfg.Policy.Backoff(i + 1))
					}
				}
				st := h.wantState(status.FailedAfterMaxRestarts)
				if st.Attempts != n || !strings.Contains(st.LastError, "boom") {
					t.Fatalf("failed status %+v, want attempts %d", st, n)
				}
				if w.spawned() != n+1 {
					t.Fatalf("spawned %d children, want %d", w.spawned(), n+1)
				}
				// It stays failed: no more spawns, however long we wait.
				time.Sleep(time.Hour)
				h.wantState(status.FailedAfterMaxRestarts)
				if w.spawned() != n+1 {
					t.Fatalf("spawned after failure")
				}
				h.stop()
			})
		})
	}
}

// The wait in restarting is exactly the backoff schedule.
func TestBackoffWaitsAreExact(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		cfg := testConfig()
		cfg.Policy.MaxRestarts = 6
		cfg.Policy.InitialBackoff = 100 * time.Millisecond
		cfg.Policy.MaxBackoff = time.Second
		h := startHarness(t, w, cfg)
		for i := 1; i <= 6; i++ {
			synctest.Wait() // let the respawn that the sleep made due happen
			w.current().exit("exited with status 1")
			synctest.Wait()
			time.Sleep(cfg.Policy.Backoff(i))
		}
		synctest.Wait()
		var restartAt time.Time
		var waits []time.Duration
		for _, ev := range h.eventsCopy() {
			switch ev.Status.State {
			case status.Restarting:
				restartAt = ev.At
			case status.Starting:
				if !restartAt.IsZero() {
					waits = append(waits, ev.At.Sub(restartAt))
				}
			}
		}
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
		if !slices.Equal(waits, want) {
			t.Fatalf("waits %v, want %v", waits, want)
		}
		h.stop()
	})
}

func TestStabilityWindowResetsTheCount(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		cfg := testConfig()
		cfg.Policy.MaxRestarts = 2
		h := startHarness(t, w, cfg)
		h.wantState(status.Running)
		w.current().exit("exited with status 1")
		if st := h.wantState(status.Restarting); st.Attempt != 1 {
			t.Fatalf("attempt %d", st.Attempt)
		}
		time.Sleep(cfg.Policy.Backoff(1))
		h.wantState(status.Running)
		// Runs well for longer than the stability window, then fails.
		time.Sleep(cfg.Policy.StabilityWindow)
		w.current().exit("exited with status 1")
		if st := h.wantState(status.Restarting); st.Attempt != 1 {
			t.Fatalf("after a stable run the failure is restart %d, want 1", st.Attempt)
		}
		// A short run does not reset it.
		time.Sleep(cfg.Policy.Backoff(1))
		h.wantState(status.Running)
		time.Sleep(cfg.Policy.StabilityWindow / 2)
		w.current().exit("exited with status 1")
		if st := h.wantState(status.Restarting); st.Attempt != 2 {
			t.Fatalf("after a short run the failure is restart %d, want 2", st.Attempt)
		}
		h.stop()
	})
}

func TestStartupTimeoutWithServerStuckLoading(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld() // answers 503 forever
		cfg := testConfig()
		cfg.Policy.StartupTimeout = 3 * time.Minute
		h := startHarness(t, w, cfg)
		p := w.current()
		start := time.Now()
		st := h.wantState(status.Starting)
		time.Sleep(cfg.Policy.StartupTimeout - time.Millisecond)
		h.wantState(status.Starting)
		time.Sleep(time.Millisecond)
		st = h.wantState(status.Restarting)
		if !strings.Contains(st.LastError, "startup_timeout 3m0s") || !strings.Contains(st.LastError, "Loading model") {
			t.Fatalf("last_error %q", st.LastError)
		}
		if d := st.Since.Sub(start); d != cfg.Policy.StartupTimeout {
			t.Fatalf("gave up after %v", d)
		}
		if p.terms != 1 {
			t.Fatalf("stuck child got %d SIGTERMs", p.terms)
		}
		h.stop()
	})
}

func TestUnhealthyRestartsAfterHealthCheckTimeout(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		cfg := testConfig()
		h := startHarness(t, w, cfg)
		h.wantState(status.Running)
		p := w.current()
		hungAt := time.Now()
		p.setHung(true)
		// One or two slow probes prove nothing.
		time.Sleep(cfg.Policy.HealthCheckTimeout - time.Second)
		h.wantState(status.Running)
		time.Sleep(cfg.Policy.HealthCheckInterval + cfg.Policy.probeTimeout())
		synctest.Wait()
		var st status.Status
		for _, ev := range h.eventsCopy() {
			if ev.Status.State == status.Restarting {
				st = ev.Status
				break
			}
		}
		if !strings.Contains(st.LastError, "unhealthy") || !strings.Contains(st.LastError, "timed out") {
			t.Fatalf("last_error %q", st.LastError)
		}
		if d := st.Since.Sub(hungAt); d < cfg.Policy.HealthCheckTimeout || d > cfg.Policy.HealthCheckTimeout+cfg.Policy.HealthCheckInterval+cfg.Policy.probeTimeout() {
			t.Fatalf("unhealthy noticed after %v", d)
		}
		h.stop()
	})
}

func TestStopEscalatesToKillAfterStopTimeout(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = func(p *fakeProc) {
			healthyAtOnce(p)
			p.ignoreTrm = true
		}
		cfg := testConfig()
		cfg.Policy.StopTimeout = 7 * time.Second
		h := startHarness(t, w, cfg)
		h.wantState(status.Running)
		start := time.Now()
		h.sup.Stop()
		h.wantState(status.Running) // SIGTERM ignored: still there
		time.Sleep(cfg.Policy.StopTimeout)
		st := h.wantState(status.Stopped)
		p := w.current()
		if p.terms != 1 || p.kills != 1 {
			t.Fatalf("SIGTERM %d, SIGKILL %d; want 1, 1", p.terms, p.kills)
		}
		if d := st.Since.Sub(start); d != cfg.Policy.StopTimeout {
			t.Fatalf("stop took %v, want stop_timeout %v", d, cfg.Policy.StopTimeout)
		}
		h.stop()
	})
}

func TestPortInUseBurnsNoBudgetAndRecovers(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		w.setPortBusy(true)
		cfg := testConfig()
		cfg.Policy.MaxRestarts = 1
		h := startHarness(t, w, cfg)
		st := h.wantState(status.NotSpawning)
		if st.Reason != "port 8080 is already in use" || !st.PortConflict() {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(10 * cfg.Policy.HealthCheckInterval)
		h.wantState(status.NotSpawning)
		if w.spawned() != 0 {
			t.Fatal("spawned while the port was taken")
		}
		w.setPortBusy(false)
		time.Sleep(cfg.Policy.HealthCheckInterval)
		h.wantState(status.Running)
		// A crash, then the port is taken during the backoff: no budget
		// burned while waiting, the one restart still available after.
		w.setPortBusy(true)
		w.current().exit("exited with status 1")
		h.wantState(status.Restarting)
		time.Sleep(cfg.Policy.Backoff(1))
		h.wantState(status.NotSpawning)
		w.setPortBusy(false)
		time.Sleep(cfg.Policy.HealthCheckInterval)
		h.wantState(status.Running)
		h.stop()
	})
}

func TestGateRefusalAndRecheck(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		cfg := testConfig()
		cfg.Command, cfg.Refusal = nil, "model file ~/m/x.gguf not found"
		h := startHarness(t, w, cfg)
		if st := h.wantState(status.NotSpawning); st.Reason != cfg.Refusal || st.PortConflict() {
			t.Fatalf("status %+v", st)
		}
		// The model arrives: the caller re-resolves and applies.
		ok := testConfig()
		missing := false
		ok.Recheck = func() string {
			if missing {
				return "model file gone"
			}
			return ""
		}
		h.sup.Apply(ok)
		h.wantState(status.Running)
		// Deleted again, then the child crashes: the re-check refuses the respawn.
		missing = true
		w.current().exit("exited with status 1")
		h.wantState(status.Restarting)
		time.Sleep(ok.Policy.Backoff(1))
		if st := h.wantState(status.NotSpawning); st.Reason != "model file gone" {
			t.Fatalf("status %+v", st)
		}
		// Same settings applied again (a models-folder event) re-runs the gate.
		missing = false
		h.sup.Apply(ok)
		h.wantState(status.Running)
		h.stop()
	})
}

func TestSpawnErrorIsNotSpawning(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.spawnErr = errors.New("exec format error")
		h := startHarness(t, w, testConfig())
		if st := h.wantState(status.NotSpawning); !strings.Contains(st.Reason, "exec format error") {
			t.Fatalf("reason %q", st.Reason)
		}
		h.stop()
	})
}

// Stop, Start and Restart from every state land where docs/status.md says.
func TestControlsFromEveryState(t *testing.T) {
	type setup func(h *harness, w *world)
	states := map[status.State]setup{
		status.Starting: func(h *harness, w *world) {},
		status.Running: func(h *harness, w *world) {
			w.current().setHealthy(true)
			time.Sleep(startingPollMax)
		},
		status.Restarting: func(h *harness, w *world) {
			w.current().exit("exited with status 1")
		},
		status.FailedAfterMaxRestarts: func(h *harness, w *world) {
			for w.current() != nil && h.sup.Hub().Status().State != status.FailedAfterMaxRestarts {
				w.current().exit("exited with status 1")
				synctest.Wait()
				time.Sleep(time.Minute)
			}
		},
		status.Stopped: func(h *harness, w *world) { h.sup.Stop() },
		status.NotSpawning: func(h *harness, w *world) {
			w.setPortBusy(true)
			h.sup.Restart()
		},
	}
	want := map[string]status.State{
		"stop": status.Stopped, "restart": status.Starting,
	}
	startWant := map[status.State]status.State{
		status.Starting: status.Starting, status.Running: status.Running, status.Restarting: status.Restarting,
		status.FailedAfterMaxRestarts: status.Starting, status.Stopped: status.Starting, status.NotSpawning: status.Starting,
	}
	for from, prep := range states {
		for _, action := range []string{"stop", "start", "restart"} {
			t.Run(string(from)+"/"+action, func(t *testing.T) {
				run(t, func(t *testing.T) {
					w := newWorld()
					h := startHarness(t, w, testConfig())
					prep(h, w)
					h.wantState(from)
					if from == status.NotSpawning {
						w.setPortBusy(false)
					}
					before := w.spawned()
					switch action {
					case "stop":
						h.sup.Stop()
					case "start":
						h.sup.Start()
					case "restart":
						h.sup.Restart()
					}
					exp := want[action]
					if action == "start" {
						exp = startWant[from]
					}
					h.wantState(exp)
					if exp == status.Starting && from != status.Starting && w.spawned() != before+1 {
						t.Fatalf("%s from %s spawned %d children", action, from, w.spawned()-before)
					}
					if action == "restart" && from == status.Starting && w.spawned() != before+1 {
						t.Fatal("restart from starting did not spawn a new child")
					}
					// At most one child at any moment.
					alive := 0
					for _, p := range w.procs {
						select {
						case <-p.exited:
						default:
							alive++
						}
					}
					if alive > 1 {
						t.Fatalf("%d children alive", alive)
					}
					h.stop()
				})
			})
		}
	}
}

func TestApplyRestartsOnlyWhenTheChildChanges(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		cfg := testConfig()
		h := startHarness(t, w, cfg)
		h.wantState(status.Running)
		pid := w.current().pid

		// Invalid edit: last good settings stay, only settings_error shows.
		bad := cfg
		bad.SettingsError = "settings.toml:3: supervisor.max_restarts: must be 0..100"
		h.sup.Apply(bad)
		st := h.wantState(status.Running)
		if st.PID != pid || st.SettingsError == "" {
			t.Fatalf("status %+v", st)
		}
		// Fixed: error clears, still the same child.
		h.sup.Apply(cfg)
		if st := h.wantState(status.Running); st.PID != pid || st.SettingsError != "" {
			t.Fatalf("status %+v", st)
		}
		// A new argument restarts it.
		changed := cfg
		changed.Command = &Command{Path: cfg.Command.Path, Args: append(slices.Clone(cfg.Command.Args), "--alias", "y")}
		h.sup.Apply(changed)
		st = h.wantState(status.Running)
		if st.PID == pid || w.spawned() != 2 {
			t.Fatalf("argv change did not restart: %+v", st)
		}
		h.stop()
	})
}

func TestApplyWhileStoppedStaysStopped(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		cfg := testConfig()
		h := startHarness(t, w, cfg)
		h.sup.Stop()
		h.wantState(status.Stopped)
		changed := cfg
		changed.Port = 9090
		h.sup.Apply(changed)
		h.wantState(status.Stopped)
		if w.spawned() != 1 {
			t.Fatal("settings change started a stopped server")
		}
		h.sup.Start()
		h.wantState(status.Starting)
		h.stop()
	})
}

func TestApplyLeavesFailedWithSettingsChange(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		cfg := testConfig()
		cfg.Policy.MaxRestarts = 0
		h := startHarness(t, w, cfg)
		w.current().exit("exited with status 1")
		h.wantState(status.FailedAfterMaxRestarts)
		changed := cfg
		changed.Port = 9090
		h.sup.Apply(changed)
		h.wantState(status.Starting)
		h.stop()
	})
}

func TestShutdownEndsSubscriptionsWithStopped(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		w.onSpawn = healthyAtOnce
		h := startHarness(t, w, testConfig())
		sub := h.sup.Subscribe(8)
		h.wantState(status.Running)
		h.stop()
		var last status.Event
		n := 0
		for ev := range sub.C {
			last = ev
			n++
		}
		if sub.Err() != nil || last.Status.State != status.Stopped || n != 2 {
			t.Fatalf("got %d events ending %+v, err %v", n, last.Status, sub.Err())
		}
		// Subscribing after the end yields the final status and a closed channel.
		late := h.sup.Subscribe(1)
		ev, ok := <-late.C
		if !ok || ev.Status.State != status.Stopped {
			t.Fatalf("late subscriber got %+v", ev)
		}
		if _, ok := <-late.C; ok {
			t.Fatal("late subscription not closed")
		}
	})
}

func TestSlowSubscriberIsCutOff(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		cfg := testConfig()
		cfg.Policy.MaxRestarts = 50
		cfg.Policy.InitialBackoff = time.Millisecond
		cfg.Policy.MaxBackoff = time.Millisecond
		h := startHarness(t, w, cfg)
		slow := h.sup.Subscribe(2)
		for i := 0; i < 10; i++ {
			w.current().exit("exited with status 1")
			synctest.Wait()
			time.Sleep(time.Millisecond)
		}
		n := 0
		for range slow.C {
			n++
		}
		if !errors.Is(slow.Err(), status.ErrSlowSubscriber) {
			t.Fatalf("slow subscriber err %v after %d events", slow.Err(), n)
		}
		h.stop()
	})
}

// Shutdown beginning while a respawn is under way (the agent got SIGTERM
// during the port check before it): nothing more is spawned. The real port
// check, given a cancelled context, cannot connect and would say "free".
func TestNoSpawnOnceShutdownBegan(t *testing.T) {
	run(t, func(t *testing.T) {
		w := newWorld()
		cfg := testConfig()
		cfg.Policy.MaxRestarts = 5
		h := startHarness(t, w, cfg)
		h.wantState(status.Starting)
		w.mu.Lock()
		w.onPortCheck = h.cancel
		w.mu.Unlock()
		w.current().exit("exited with status 1: boom") // a crash loop
		time.Sleep(cfg.Policy.Backoff(1))
		h.stop()
		if n := w.spawned(); n != 1 {
			t.Fatalf("spawned %d children; the second came after shutdown began", n)
		}
	})
}

// A Start arriving together with the shutdown: whichever the loop sees
// first, no child is spawned once the context is done. (When the loop takes
// the Start before the cancel, its spawn is legitimate: it came first.)
func TestStartRacingShutdownSpawnsNothing(t *testing.T) {
	for i := range 32 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			run(t, func(t *testing.T) {
				w := newWorld()
				h := startHarness(t, w, testConfig())
				h.sup.Stop()
				h.wantState(status.Stopped)
				w.mu.Lock()
				w.shutDown = func() bool { return h.ctx.Err() != nil }
				w.mu.Unlock()
				h.sup.Start()
				h.cancel()
				h.stop()
				w.mu.Lock()
				late := w.lateSpawns
				w.mu.Unlock()
				if late != 0 {
					t.Fatalf("spawned %d children after shutdown began", late)
				}
			})
		})
	}
}
