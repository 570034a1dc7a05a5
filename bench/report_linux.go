//go:build linux

package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

var peersOrder = []string{"ocm-tray", "supervisord", "runit"}

type idleRes struct {
	rssMB, cpuPct, cpuMS float64
	threads              int
	window               time.Duration
	sub                  series // CPU % of each 10 s sub-window
}

type results struct {
	figs         map[string]map[string]series
	survived     map[string]int
	survivalRuns map[string]int
	idle         map[string]idleRes
	errors       []string
}

func newResults() *results {
	return &results{figs: map[string]map[string]series{}, survived: map[string]int{}, survivalRuns: map[string]int{}, idle: map[string]idleRes{}}
}

func (r *results) add(fig, who string, v float64) {
	if r.figs[fig] == nil {
		r.figs[fig] = map[string]series{}
	}
	r.figs[fig][who] = append(r.figs[fig][who], v)
}

// figure describes one row of the table.
type figure struct {
	key, title, unit string
	target           float64 // on ocm-tray's median; NaN: none
	targetText       string
	na               map[string]string // why a peer has no value
}

var figures = []figure{
	{key: "crash", title: "crash detection: child exit → supervisor notices", unit: "ms", target: 1, targetText: "≤ 1 ms",
		na: map[string]string{"runit": "no observable event (runsv restarts at once)"}},
	{key: "respawn", title: "respawn overhead: beyond the configured delay, until the new child is forked", unit: "ms", target: 3, targetText: "≤ 3 ms",
		na: map[string]string{"runit": "see next row"}},
	{key: "exit2new", title: "child exit → new child forked, minus the configured delay", unit: "ms", target: math.NaN()},
	{key: "ready", title: "readiness: /health turns 200 → running (upper bound)", unit: "ms", target: 20, targetText: "≤ 20 ms",
		na: map[string]string{"supervisord": "no health check", "runit": "no health check"}},
	{key: "readylow", title: "readiness, lower bound (bench's first 200 received → running; < 0: ocm-tray saw it first)", unit: "ms", target: math.NaN(),
		na: map[string]string{"supervisord": "no health check", "runit": "no health check"}},
	{key: "stop", title: "stop, well-behaved child: stop command → child exited", unit: "ms", target: 5, targetText: "≤ 5 ms"},
	{key: "stopcli", title: "stop, well-behaved child: stop command → command returned", unit: "ms", target: math.NaN()},
	{key: "stop0", title: "stop, child exiting at once on SIGTERM: stop command → child exited", unit: "ms", target: math.NaN()},
	{key: "stop0cli", title: "stop, child exiting at once on SIGTERM: stop command → command returned", unit: "ms", target: math.NaN()},
	{key: "stopign", title: "stop, SIGTERM ignored: command → child exited, beyond the 1 s stop timeout", unit: "ms", target: 10, targetText: "≤ stop_timeout + 10 ms"},
	{key: "stopigncli", title: "stop, SIGTERM ignored: command → command returned, beyond the 1 s stop timeout", unit: "ms", target: math.NaN()},
	{key: "cli", title: "starting the CLI (`ocm-tray --version`), part of every `ocm-tray quit`", unit: "ms", target: math.NaN()},
	{key: "death", title: "supervisor SIGKILLed → child exited", unit: "ms", target: math.NaN()},
}

func peerCommand(who, fig string) string {
	switch fig {
	case "stop", "stopcli", "stop0", "stop0cli":
		return map[string]string{"ocm-tray": "`ocm-tray quit`", "supervisord": "`supervisorctl stop`", "runit": "`sv down`"}[who]
	case "stopign", "stopigncli":
		return map[string]string{"ocm-tray": "`ocm-tray quit`", "supervisord": "`supervisorctl stop`", "runit": "`sv -w 1 force-stop`"}[who]
	}
	return ""
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3g", a/b)
}

func (b *bench) cell(fig, who string, f figure) string {
	s := b.res.figs[fig][who]
	if len(s) == 0 {
		if n, ok := f.na[who]; ok {
			return "n/a (" + n + ")"
		}
		if who != "ocm-tray" && !b.peersOK {
			return "not run"
		}
		return "n/a"
	}
	c := s.cell()
	if cmd := peerCommand(who, fig); cmd != "" {
		c += " " + cmd
	}
	return c
}

// table is the Markdown table of every figure.
func (b *bench) table() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| figure (median (min – max), %d runs) | ocm-tray | supervisord | runit | ocm-tray / supervisord | ocm-tray / runit | target | met |\n", b.runs)
	sb.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, f := range figures {
		o := b.res.figs[f.key]["ocm-tray"].median()
		met := ""
		if !math.IsNaN(f.target) {
			switch {
			case math.IsNaN(o):
				met = "not measured"
			case o <= f.target:
				met = "yes"
			default:
				met = "**no**"
			}
		}
		fmt.Fprintf(&sb, "| %s (%s) | %s | %s | %s | %s | %s | %s | %s |\n", f.title, f.unit,
			b.cell(f.key, "ocm-tray", f), b.cell(f.key, "supervisord", f), b.cell(f.key, "runit", f),
			ratio(o, b.res.figs[f.key]["supervisord"].median()), ratio(o, b.res.figs[f.key]["runit"].median()),
			f.targetText, met)
	}
	// Survival.
	surv := func(who string) string {
		n := b.res.survivalRuns[who]
		if n == 0 {
			return "not run"
		}
		if b.res.survived[who] == 0 {
			return fmt.Sprintf("no (0 of %d)", n)
		}
		return fmt.Sprintf("**yes** (%d of %d)", b.res.survived[who], n)
	}
	met := "yes"
	if b.res.survived["ocm-tray"] > 0 || b.res.survivalRuns["ocm-tray"] == 0 {
		met = "**no**"
	}
	fmt.Fprintf(&sb, "| survival: child outlives a SIGKILL of the supervisor | %s | %s | %s | – | – | never | %s |\n",
		surv("ocm-tray"), surv("supervisord"), surv("runit"), met)

	// Idle.
	idle := func(who string, f func(idleRes) float64) (string, float64) {
		r, ok := b.res.idle[who]
		if !ok {
			return "not measured", math.NaN()
		}
		v := f(r)
		return fmtNum(v), v
	}
	rss := func(r idleRes) float64 { return r.rssMB }
	cpu := func(r idleRes) float64 { return r.cpuPct }
	for _, row := range []struct {
		title, who string
		f          func(idleRes) float64
		target     float64
		tt         string
	}{
		{"idle RSS, headless (MB)", "ocm-tray headless", rss, math.NaN(), ""},
		{"idle RSS, tray up (MB)", "ocm-tray tray", rss, 15, "≤ 15 MB"},
		{"idle CPU, headless, 5 s health interval (% of one CPU)", "ocm-tray headless", cpu, 0.015, "≤ 0.015 %"},
		{"idle CPU, tray up, 5 s health interval (% of one CPU)", "ocm-tray tray", cpu, 0.015, "≤ 0.015 %"},
	} {
		oc, ov := idle(row.who, row.f)
		sc, sv := idle("supervisord", row.f)
		rc, rv := idle("runit", row.f)
		m := ""
		if !math.IsNaN(row.target) {
			switch {
			case math.IsNaN(ov):
				m = "not measured"
			case ov <= row.target:
				m = "yes"
			default:
				m = "**no**"
			}
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", row.title, oc, sc, rc, ratio(ov, sv), ratio(ov, rv), row.tt, m)
	}
	return sb.String()
}

func (b *bench) report(cmdline string, elapsed time.Duration) string {
	var sb strings.Builder
	sb.WriteString("# Benchmarks\n\n")
	sb.WriteString("<!-- Generated by `go run ./bench`; do not edit the numbers by hand. The reading at the end is written for this run. -->\n\n")
	fmt.Fprintf(&sb, "- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&sb, "- Machine: %s\n", machine())
	fmt.Fprintf(&sb, "- Load average (1/5/15 min) before the timed runs: %s; after: %s (the machine may be shared: read min and median, not max)\n", b.load0, b.load1)
	fmt.Fprintf(&sb, "- Command (as root, from the module root): `%s` (took %s)\n", cmdline, elapsed.Round(time.Second))
	if b.peersOK {
		fmt.Fprintf(&sb, "- Peers: supervisord %s (Debian package `supervisor`), runit %s (`runsv` on one service directory)\n", pkgVersion("supervisor"), pkgVersion("runit"))
	}
	if fakeEra == "2026" {
		fmt.Fprintf(&sb, "- Child: the project's fake llama-server (`internal/fakellama`) playing a current build (FAKE_LLAMA_ERA=2026: ready lines `llama_server: model loaded` / `listening on http://`), 50 ms \"Loading model\" window, 2 ms SIGTERM→exit 0 shutdown\n")
	} else {
		fmt.Fprintf(&sb, "- Child: the project's fake llama-server (`internal/fakellama`), 50 ms \"Loading model\" window, 2 ms SIGTERM→SIGABRT shutdown (as the real llama-server)\n")
	}
	fmt.Fprintf(&sb, "- ocm-tray settings: initial_backoff = max_backoff = %s, stop_timeout = %s, health_check_interval = 5s, notifications off; "+
		"supervisord: startsecs=0, autorestart=true, startretries=100, stopwaitsecs=1, stopasgroup/killasgroup; runit: plain `run` script (`exec` of the fake)\n", backoff, stopTimeout)
	tray := "not measured"
	if _, ok := b.res.idle["ocm-tray tray"]; ok {
		tray = "measured; " + b.trayNote
		if !b.trayOK {
			tray = "measured, but the icon was NOT seen registered: " + b.trayNote
		}
	} else if b.trayNote != "" {
		tray = "failed: " + b.trayNote
	}
	fmt.Fprintf(&sb, "- Tray: Xvfb + dbus-run-session + xfce4-panel (systray plugin); %s\n", tray)
	fmt.Fprintf(&sb, "- Idle window: %s, all supervisors idle at the same time, each with its own idle child (children not counted)\n\n", b.idle)
	sb.WriteString(b.table())
	sb.WriteString("\n")
	if len(b.res.idle) > 0 {
		sb.WriteString("Idle detail:\n\n| process | max RSS (MB) | CPU in window (ms) | CPU (%) | CPU % per 10 s sub-window, median (min – max) | threads |\n|---|---|---|---|---|---|\n")
		for _, who := range []string{"ocm-tray headless", "ocm-tray headless, no probes (1 h interval)", floorName, "ocm-tray tray", "supervisord", "runit"} {
			if r, ok := b.res.idle[who]; ok {
				fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %d |\n", who, fmtNum(r.rssMB), fmtNum(r.cpuMS), fmtNum(r.cpuPct), r.sub.cell(), r.threads)
			}
		}
		sb.WriteString("\n")
	}
	if t := b.res.figs["teardown"]["all"]; len(t) > 0 {
		fmt.Fprintf(&sb, "Kernel teardown of the dying child (its leader thread's exit → its last thread's exit, after which any supervisor can reap it; the figures above start at the latter): %s ms over %d exits.\n\n", t.cell(), len(t))
	}
	if len(b.res.errors) > 0 {
		sb.WriteString("Errors in this run:\n\n")
		for _, e := range b.res.errors {
			fmt.Fprintf(&sb, "- %s\n", e)
		}
		sb.WriteString("\n")
	}
	if b.micro != "" {
		sb.WriteString("## Go micro-benchmarks (hot paths)\n\n`go test -run '^$' -bench . -benchmem -count 1 ./supervisor` (supervisor/bench_test.go), in the same run:\n\n```\n")
		for _, l := range strings.Split(strings.TrimSpace(b.micro), "\n") {
			if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "cpu:") || strings.HasPrefix(l, "goos") || strings.HasPrefix(l, "goarch") {
				sb.WriteString(l + "\n")
			}
		}
		sb.WriteString("```\n\n" + microNotes)
	}
	sb.WriteString(howMeasured)
	sb.WriteString(b.reading())
	return sb.String()
}

const howMeasured = `## How each figure is taken

All instants come from one clock. Child exits and forks are the kernel's own
timestamps from the process-event connector (netlink ` + "`CN_IDX_PROC`" + `,
CLOCK_MONOTONIC converted to wall time once), so exits and spawns are seen
without polling and the same way for every supervisor. ocm-tray's states are
the ` + "`\"at\"`" + ` stamps of ` + "`ocm-tray status --watch --json`" + `.

- crash detection: the bench SIGKILLs the running child; exit instant (kernel)
  → ocm-tray's ` + "`restarting`" + ` event. supervisord: → its ` + "`exited: llama`" + ` log line
  (millisecond resolution, +0.5 ms to centre it).
- respawn overhead: ocm-tray: ` + "`restarting`" + ` + backoff → the new child's fork
  (kernel). supervisord: its ` + "`exited`" + ` log line → fork (it has no delay after a
  RUNNING process exits).
- child exit → new child: the whole gap, minus the configured delay (ocm-tray's
  backoff; 0 for the peers).
- readiness: the bench probes /health itself every ~0.1 ms on a keep-alive
  connection; its first 200 → ocm-tray's ` + "`running`" + `. The first 200 can be up to
  one probe round (~0.2 ms) late, so a median near or below 0 means "within
  the bench's resolution".
- stop: the stop command is started → child exit (kernel) and → the command
  returned. ` + "`ocm-tray quit`" + ` returns after the child is reaped. A fresh agent per run.
- SIGTERM ignored: the same, with FAKE_LLAMA_IGNORE_SIGTERM=1, minus the 1 s
  stop timeout (ocm-tray stop_timeout, supervisord stopwaitsecs, ` + "`sv -w 1`" + `).
- survival: SIGKILL to the supervisor; the child's exit is awaited for 2 s
  (the bench is a child subreaper, so an orphan is re-parented to it and
  cleaned up afterwards).
- idle: after everything is up and 5 s of settling, VmRSS (max of 1 s samples)
  and the sum over /proc/PID/task/*/schedstat (run time in ns) across the window.

`
