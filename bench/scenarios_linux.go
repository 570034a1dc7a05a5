//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest/xfcepanel"
)

// fakeEra is which llama-server build the fake plays (-era): their ready
// lines differ, and readiness is detected from them.
var fakeEra = "2025"

// fakeEnv is the fake child's environment in every scenario: the default
// 50 ms "Loading model" window and 2 ms SIGTERM-to-abort shutdown, as the
// real llama-server (docs/llama-server.md).
func fakeEnv(ignoreTerm bool) []string {
	env := []string{"FAKE_LLAMA_LOAD=50ms", "FAKE_LLAMA_ERA=" + fakeEra}
	if ignoreTerm {
		env = append(env, "FAKE_LLAMA_IGNORE_SIGTERM=1")
	}
	return env
}

// stopEnv is the child's environment for a stop figure: "stop" (the
// llama-server-like 2 ms shutdown), "stop0" (exits at once on SIGTERM, so
// only the supervisor's own cost is left) or "stopign" (ignores SIGTERM).
func stopEnv(fig string) []string {
	switch fig {
	case "stopign":
		return fakeEnv(true)
	case "stop0":
		return append(fakeEnv(false), "FAKE_LLAMA_SHUTDOWN_DELAY=0s")
	}
	return fakeEnv(false)
}

// cliBaseline is what starting the ocm-tray binary costs, without the
// agent: part of every `ocm-tray quit`.
func (b *bench) cliBaseline() error {
	for range b.runs {
		t0 := time.Now()
		if err := exec.Command(b.ocm, "--version").Run(); err != nil {
			return err
		}
		b.res.add("cli", "ocm-tray", ms(time.Since(t0)))
	}
	return nil
}

// ocmCrash: per run, two SIGKILLs of the child. The first measures crash
// detection and respawn; the second, with the bench probing /health itself
// as fast as it can, measures readiness detection (kept apart so the
// probing cannot disturb the first).
func (b *bench) ocmCrash() error {
	o, err := b.newOCM("ocm-crash", ocmPolicy{Backoff: backoff, StopTimeout: stopTimeout, HealthEvery: 5 * time.Second}, fakeEnv(false))
	if err != nil {
		return err
	}
	defer o.stop()
	if err := o.startHeadless(); err != nil {
		return err
	}
	if err := o.startWatch(); err != nil {
		return err
	}
	ev, _, err := o.waitEvent(0, 10*time.Second, "running")
	if err != nil {
		return err
	}
	pid := ev.PID
	for r := range b.runs {
		// Crash detection and respawn overhead.
		time.Sleep(b.settle)
		m := o.mark()
		t0 := time.Now()
		syscall.Kill(pid, syscall.SIGKILL)
		texit, ok := b.pe.wait("exit", pid, t0.Add(-time.Millisecond), 3*time.Second)
		if !ok {
			return fmt.Errorf("run %d: no exit event for child %d", r, pid)
		}
		rest, i, err := o.waitEvent(m, 5*time.Second, "restarting")
		if err != nil {
			return err
		}
		st, i, err := o.waitEvent(i, 5*time.Second, "starting")
		if err != nil {
			return err
		}
		tfork, ok := b.pe.wait("fork", st.PID, texit, 3*time.Second)
		if !ok {
			return fmt.Errorf("run %d: no fork event for child %d", r, st.PID)
		}
		if _, _, err = o.waitEvent(i, 10*time.Second, "running"); err != nil {
			return err
		}
		texit = b.lastExit(pid, texit)
		b.res.add("crash", "ocm-tray", ms(rest.At.Sub(texit)))
		b.res.add("respawn", "ocm-tray", ms(tfork.Sub(rest.At)-backoff))
		b.res.add("exit2new", "ocm-tray", ms(tfork.Sub(texit)-backoff))
		pid = st.PID

		// Readiness detection: first 200 seen by the bench -> running.
		time.Sleep(b.settle)
		m = o.mark()
		syscall.Kill(pid, syscall.SIGKILL)
		if _, _, err := o.waitEvent(m, 5*time.Second, "restarting"); err != nil {
			return err
		}
		if _, ok := b.pe.wait("exit", pid, t0, 3*time.Second); !ok {
			return fmt.Errorf("run %d: child %d did not exit", r, pid)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		firstC := make(chan [2]time.Time, 1)
		go func() {
			notYet, first, _ := firstOK(ctx, o.port, 100*time.Microsecond)
			firstC <- [2]time.Time{notYet, first}
		}()
		run, _, err := o.waitEvent(m, 10*time.Second, "running")
		first := <-firstC
		cancel()
		if err != nil {
			return err
		}
		if first[1].IsZero() || first[0].IsZero() {
			return fmt.Errorf("run %d: the bench never saw a 503 then a 200", r)
		}
		// /health turned 200 after the bench sent its last non-200 probe
		// and before its first 200 arrived: readiness lies between these.
		b.res.add("ready", "ocm-tray", ms(run.At.Sub(first[0])))
		b.res.add("readylow", "ocm-tray", ms(run.At.Sub(first[1])))
		pid = run.PID
	}
	return nil
}

// ocmStop: per run a fresh agent; `ocm-tray quit` -> child exited, and ->
// quit returned (which it does after the agent reaped the child).
func (b *bench) ocmStop(fig string) error {
	for r := range b.runs {
		o, err := b.newOCM(fmt.Sprintf("ocm-stop-%d", r), ocmPolicy{Backoff: backoff, StopTimeout: stopTimeout, HealthEvery: 5 * time.Second}, stopEnv(fig))
		if err != nil {
			return err
		}
		err = func() error {
			defer o.stop()
			if err := o.startHeadless(); err != nil {
				return err
			}
			if err := o.startWatch(); err != nil {
				return err
			}
			ev, _, err := o.waitEvent(0, 10*time.Second, "running")
			if err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond)
			quit := exec.Command(b.ocm, "quit")
			quit.Env = o.env
			t0 := time.Now()
			out, err := quit.CombinedOutput()
			tret := time.Now()
			if err != nil {
				return fmt.Errorf("ocm-tray quit: %v: %s", err, out)
			}
			texit, ok := b.pe.wait("exit", ev.PID, t0, 3*time.Second)
			if !ok {
				return fmt.Errorf("child %d did not exit", ev.PID)
			}
			if aliveNotZombie(ev.PID) {
				return fmt.Errorf("child %d still alive after quit returned", ev.PID)
			}
			texit = b.lastExit(ev.PID, texit)
			b.addStop(fig, "ocm-tray", texit.Sub(t0), tret.Sub(t0))
			waitGone(o.agentPID, 3*time.Second)
			return nil
		}()
		if err != nil {
			return fmt.Errorf("%s run %d: %w", fig, r, err)
		}
		os.RemoveAll(o.dir)
	}
	return nil
}

// ocmSurvival: SIGKILL the agent; does the child outlive it?
func (b *bench) ocmSurvival() error {
	n := min(b.runs, 5)
	for r := range n {
		o, err := b.newOCM(fmt.Sprintf("ocm-kill-%d", r), ocmPolicy{Backoff: backoff, StopTimeout: stopTimeout, HealthEvery: 5 * time.Second}, fakeEnv(false))
		if err != nil {
			return err
		}
		err = func() error {
			defer o.stop()
			if err := o.startHeadless(); err != nil {
				return err
			}
			var st ocmEvent
			if !waitFor(10*time.Second, 5*time.Millisecond, func() bool {
				st, err = o.statusState()
				return err == nil && st.State == "running"
			}) {
				return fmt.Errorf("never running")
			}
			time.Sleep(300 * time.Millisecond)
			t0 := time.Now()
			syscall.Kill(o.agentPID, syscall.SIGKILL)
			texit, died := b.pe.wait("exit", st.PID, t0, 2*time.Second)
			if died {
				time.Sleep(50 * time.Millisecond)
				texit = b.lastExit(st.PID, texit)
				b.res.add("death", "ocm-tray", ms(texit.Sub(t0)))
			} else if aliveNotZombie(st.PID) {
				b.res.survived["ocm-tray"]++
				syscall.Kill(st.PID, syscall.SIGKILL)
			}
			reapOrphan(st.PID)
			b.res.survivalRuns["ocm-tray"]++
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) peerCrash(kind string) error {
	p, err := b.newPeer(kind, fakeEnv(false), int(stopTimeout/time.Second))
	if err != nil {
		return err
	}
	defer p.stop()
	if err := p.start(); err != nil {
		return err
	}
	pid, err := p.waitChild(0, 15*time.Second)
	if err != nil {
		return err
	}
	for r := range b.runs {
		time.Sleep(b.settle)
		nExited := len(p.exitedLines())
		t0 := time.Now()
		syscall.Kill(pid, syscall.SIGKILL)
		texit, ok := b.pe.wait("exit", pid, t0.Add(-time.Millisecond), 3*time.Second)
		if !ok {
			return fmt.Errorf("run %d: no exit event for %d", r, pid)
		}
		newPID, err := p.waitChild(pid, 15*time.Second)
		if err != nil {
			return fmt.Errorf("run %d: %w", r, err)
		}
		tfork, ok := b.pe.wait("fork", newPID, texit, time.Second)
		if !ok {
			return fmt.Errorf("run %d: no fork event for %d", r, newPID)
		}
		texit = b.lastExit(pid, texit)
		b.res.add("exit2new", kind, ms(tfork.Sub(texit)))
		if kind == "supervisord" {
			var seen time.Time
			waitFor(3*time.Second, 5*time.Millisecond, func() bool {
				l := p.exitedLines()
				if len(l) > nExited {
					seen = l[nExited]
					return true
				}
				return false
			})
			if !seen.IsZero() {
				// The log has millisecond resolution (truncated): add half a
				// millisecond so the median is not biased low.
				det := seen.Add(500 * time.Microsecond).Sub(texit)
				b.res.add("crash", kind, ms(det))
				b.res.add("respawn", kind, ms(tfork.Sub(seen.Add(500*time.Microsecond))))
			}
		}
		pid = newPID
	}
	return nil
}

func (b *bench) peerStop(kind, fig string) error {
	ignoring := fig == "stopign"
	p, err := b.newPeer(kind, stopEnv(fig), int(stopTimeout/time.Second))
	if err != nil {
		return err
	}
	defer p.stop()
	if err := p.start(); err != nil {
		return err
	}
	pid, err := p.waitChild(0, 15*time.Second)
	if err != nil {
		return err
	}
	for r := range b.runs {
		time.Sleep(300 * time.Millisecond)
		cmd := p.stopCmd(ignoring)
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		tret := time.Now()
		if err != nil && !(kind == "runit" && ignoring) { // force-stop exits 1 on its timeout
			return fmt.Errorf("run %d: %v: %v: %s", r, cmd.Args, err, out)
		}
		texit, ok := b.pe.wait("exit", pid, t0, 5*time.Second)
		if !ok {
			return fmt.Errorf("run %d: child %d did not exit", r, pid)
		}
		waitGone(pid, 5*time.Second)
		texit = b.lastExit(pid, texit)
		b.addStop(fig, kind, texit.Sub(t0), tret.Sub(t0))
		if r == b.runs-1 {
			break
		}
		if out, err := p.startCmd().CombinedOutput(); err != nil {
			return fmt.Errorf("run %d: start again: %v: %s", r, err, out)
		}
		if pid, err = p.waitChild(pid, 15*time.Second); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) peerSurvival(kind string) error {
	n := min(b.runs, 5)
	for range n {
		p, err := b.newPeer(kind, fakeEnv(false), int(stopTimeout/time.Second))
		if err != nil {
			return err
		}
		err = func() error {
			defer p.stop()
			if err := p.start(); err != nil {
				return err
			}
			pid, err := p.waitChild(0, 15*time.Second)
			if err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond)
			t0 := time.Now()
			syscall.Kill(p.pid, syscall.SIGKILL)
			texit, died := b.pe.wait("exit", pid, t0, 2*time.Second)
			if died {
				time.Sleep(50 * time.Millisecond)
				texit = b.lastExit(pid, texit)
				b.res.add("death", kind, ms(texit.Sub(t0)))
			} else if aliveNotZombie(pid) {
				b.res.survived[kind]++
				syscall.Kill(-pid, syscall.SIGKILL)
				syscall.Kill(pid, syscall.SIGKILL)
			}
			reapOrphan(pid)
			b.res.survivalRuns[kind]++
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// idleTarget is one process whose idle footprint is sampled.
// floorName labels the Go runtime's own idle cost in the idle figures.
const floorName = "Go floor: a Go process that only wakes every 5 s"

type idleTarget struct {
	who string // "ocm-tray headless", "ocm-tray tray", "supervisord", "runit"
	pid int
}

// idleAll runs every supervisor at once, each with its own idle child, and
// samples them over the same window: RSS (VmRSS, max over 1 s samples) and
// CPU from /proc/PID/task/*/schedstat.
func (b *bench) idleAll(withTray bool) error {
	var targets []idleTarget
	pol := ocmPolicy{Backoff: 500 * time.Millisecond, StopTimeout: 10 * time.Second, HealthEvery: 5 * time.Second}

	o, err := b.newOCM("ocm-idle", pol, fakeEnv(false))
	if err != nil {
		return err
	}
	defer o.stop()
	if err := o.startHeadless(); err != nil {
		return err
	}
	targets = append(targets, idleTarget{"ocm-tray headless", o.agentPID})

	// The same agent with no health probe in the window: what the probes cost.
	polQuiet := pol
	polQuiet.HealthEvery = time.Hour
	oq, err := b.newOCM("ocm-idle-noprobe", polQuiet, fakeEnv(false))
	if err != nil {
		return err
	}
	defer oq.stop()
	if err := oq.startHeadless(); err != nil {
		return err
	}
	targets = append(targets, idleTarget{"ocm-tray headless, no probes (1 h interval)", oq.agentPID})

	// The floor: a Go process that only wakes every 5 s.
	floor := exec.Command(b.floor, "-every", pol.HealthEvery.String())
	if err := startGroup("gofloor", floor); err != nil {
		return err
	}
	defer func() {
		killGroup(floor.Process.Pid)
		floor.Wait()
	}()
	targets = append(targets, idleTarget{floorName, floor.Process.Pid})

	var tr *trayInst
	if withTray {
		tr, err = b.startTray(pol)
		if err != nil {
			b.trayNote = err.Error()
			b.logf("tray: %v", err)
		} else {
			defer tr.stop()
			targets = append(targets, idleTarget{"ocm-tray tray", tr.agentPID})
		}
	}
	if b.peersOK {
		for _, k := range []string{"supervisord", "runit"} {
			p, err := b.newPeer(k, fakeEnv(false), 10)
			if err != nil {
				return err
			}
			defer p.stop()
			if err := p.start(); err != nil {
				return err
			}
			if _, err := p.waitChild(0, 15*time.Second); err != nil {
				return err
			}
			targets = append(targets, idleTarget{k, p.pid})
		}
	}
	// Every ocm-tray child running.
	for _, oi := range []*ocmInst{o, oq, trOCM(tr)} {
		if oi == nil {
			continue
		}
		if !waitFor(15*time.Second, 20*time.Millisecond, func() bool { return healthOK(oi.port) }) {
			return fmt.Errorf("%s: child never ready", oi.name)
		}
	}
	if tr != nil {
		b.trayOK, b.trayNote = tr.registered()
	}
	time.Sleep(5 * time.Second) // settle: start-up work done, GC quiet
	b.logf("idle window %s for %d processes", b.idle, len(targets))
	cpu0 := map[string]int64{}
	for _, t := range targets {
		cpu0[t.who], _ = cpuNS(t.pid)
	}
	w0 := time.Now()
	maxRSS := map[string]int64{}
	sub := map[string]series{} // CPU % per 10 s sub-window
	lastCPU := map[string]int64{}
	for k, v := range cpu0 {
		lastCPU[k] = v
	}
	lastT := w0
	for i := 1; time.Since(w0) < b.idle; i++ {
		time.Sleep(time.Until(w0.Add(time.Duration(i) * time.Second)))
		for _, t := range targets {
			if r, err := rssKB(t.pid); err == nil && r > maxRSS[t.who] {
				maxRSS[t.who] = r
			}
		}
		if i%10 == 0 {
			now := time.Now()
			for _, t := range targets {
				if c, err := cpuNS(t.pid); err == nil {
					sub[t.who] = append(sub[t.who], float64(c-lastCPU[t.who])/float64(now.Sub(lastT))*100)
					lastCPU[t.who] = c
				}
			}
			lastT = now
		}
	}
	window := time.Since(w0)
	for _, t := range targets {
		c1, err := cpuNS(t.pid)
		if err != nil {
			return fmt.Errorf("%s (pid %d) went away during the idle window", t.who, t.pid)
		}
		b.res.idle[t.who] = idleRes{
			rssMB:   float64(maxRSS[t.who]) / 1024,
			cpuPct:  float64(c1-cpu0[t.who]) / float64(window) * 100,
			cpuMS:   float64(c1-cpu0[t.who]) / 1e6,
			threads: threadCount(t.pid),
			sub:     sub[t.who],
			window:  window,
		}
	}
	if tr != nil {
		// Still registered at the end of the window?
		ok, note := tr.registered()
		b.trayOK = b.trayOK && ok
		if !ok {
			b.trayNote = note
		}
	}
	return nil
}

func trOCM(t *trayInst) *ocmInst {
	if t == nil {
		return nil
	}
	return t.o
}

// trayInst is an ocm-tray agent with its tray up on a private X display and
// session bus, next to xfce4-panel (a real StatusNotifierWatcher and host).
type trayInst struct {
	b        *bench
	o        *ocmInst
	cmd      *exec.Cmd
	agentPID int
	busFile  string
}

// benchPanelHeight is the tray panel's height in the idle measurements.
const benchPanelHeight = 24

func (b *bench) startTray(pol ocmPolicy) (*trayInst, error) {
	if !have("xvfb-run", "Xvfb", "dbus-run-session", "dbus-send", "xfce4-panel") {
		return nil, fmt.Errorf("tray test bed missing (apt-get install xvfb dbus dbus-x11 xfce4-panel)")
	}
	o, err := b.newOCM("ocm-tray-idle", pol, fakeEnv(false))
	if err != nil {
		return nil, err
	}
	t := &trayInst{b: b, o: o, busFile: filepath.Join(o.dir, "bus.addr")}
	home := filepath.Join(o.dir, "home")
	if err := xfcepanel.WriteConfig(filepath.Join(o.dir, "config"), benchPanelHeight); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(o.dir, "agent.pid")
	script := fmt.Sprintf(`echo "$DBUS_SESSION_BUS_ADDRESS" > %[1]s
xfce4-panel --disable-wm-check >%[2]s/panel.log 2>&1 &
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.kde.StatusNotifierWatcher 2>/dev/null | grep -q true; do
  i=$((i+1)); [ $i -gt 200 ] && break; sleep 0.05
done
echo $$ > %[3]s
exec %[4]s >%[2]s/agent.out 2>&1
`, t.busFile, o.dir, pidFile, b.ocm)
	cmd := exec.Command("xvfb-run", "-a", "-s", "-screen 0 1024x600x24 -nolisten tcp", "dbus-run-session", "--", "sh", "-c", script)
	cmd.Env = append(o.env, "XDG_DATA_DIRS=/usr/local/share:/usr/share", "XDG_CONFIG_DIRS=/etc/xdg", "NO_AT_BRIDGE=1")
	cmd.Dir = home
	if err := startGroup("tray session", cmd); err != nil {
		return nil, err
	}
	t.cmd = cmd
	go cmd.Wait()
	if !waitFor(30*time.Second, 20*time.Millisecond, func() bool { return readPIDFile(pidFile) != 0 }) {
		t.stop()
		return nil, fmt.Errorf("the tray session never started the agent")
	}
	t.agentPID = readPIDFile(pidFile)
	o.agentPID = t.agentPID
	if err := o.waitSocket(); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// registered asks the StatusNotifierWatcher whether an item is registered.
func (t *trayInst) registered() (bool, string) {
	b, err := os.ReadFile(t.busFile)
	if err != nil {
		return false, "no session bus address"
	}
	var out []byte
	ok := waitFor(15*time.Second, 100*time.Millisecond, func() bool {
		cmd := exec.Command("dbus-send", "--print-reply", "--bus="+strings.TrimSpace(string(b)),
			"--dest=org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher", "org.freedesktop.DBus.Properties.Get",
			"string:org.kde.StatusNotifierWatcher", "string:RegisteredStatusNotifierItems")
		out, err = cmd.CombinedOutput()
		return err == nil && strings.Contains(string(out), "StatusNotifierItem")
	})
	if !ok {
		return false, fmt.Sprintf("no item registered with xfce4-panel's StatusNotifierWatcher: %v %s", err, strings.TrimSpace(string(out)))
	}
	return true, "icon registered with xfce4-panel's StatusNotifierWatcher (RegisteredStatusNotifierItems)"
}

func (t *trayInst) stop() {
	if t.agentPID != 0 {
		q := exec.Command(t.b.ocm, "quit")
		q.Env = t.o.env
		q.Run()
		waitGone(t.agentPID, 5*time.Second)
	}
	if t.cmd != nil && t.cmd.Process != nil {
		killGroup(t.cmd.Process.Pid)
	}
}

// lastExit is when the last thread of pid exited (the process became
// waitable), given its leader's exit; it records the kernel's teardown time
// in between. Call it once the process is known to be reaped.
func (b *bench) lastExit(pid int, leader time.Time) time.Time {
	last, ok := b.pe.lookup("last", pid, leader)
	if !ok {
		return leader
	}
	b.res.add("teardown", "all", ms(last.Sub(leader)))
	return last
}

// addStop records a stop: command -> child exited, and -> command returned;
// for "stopign" both beyond the stop timeout.
func (b *bench) addStop(fig, who string, exited, returned time.Duration) {
	if fig == "stopign" {
		exited -= stopTimeout
		returned -= stopTimeout
	}
	b.res.add(fig, who, ms(exited))
	b.res.add(fig+"cli", who, ms(returned))
}
