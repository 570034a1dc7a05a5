//go:build linux

package main

import (
	"fmt"
	"strings"
)

const microNotes = `BenchmarkProbe is one liveness probe (GET /health, 200, keep-alive
loopback connection through net/http); BenchmarkProbeLoading the same
answered 503 "Loading model". BenchmarkPublish is one status publication
(hub.publish) to the tray's coalescing poke and 3 ordered subscribers;
BenchmarkTransition one state transition (runner.publish: annotate, compare,
legality check, slog line, hub); BenchmarkCrashToRestarting the Run loop's
whole in-process path from a child's exit to restarting published (fake
process, no kernel).

`

// reading is the short interpretation: which targets this run met, and for
// each one missed what limits it. The numbers in it come from this run.
func (b *bench) reading() string {
	med := func(fig, who string) float64 { return b.res.figs[fig][who].median() }
	n := fmtNum
	var sb strings.Builder
	idleExplained := false
	sb.WriteString("## Reading\n\n")
	var missed []string
	for _, f := range figures {
		o := b.res.figs[f.key]["ocm-tray"]
		if f.targetText != "" && len(o) > 0 && o.median() > f.target {
			missed = append(missed, f.key)
		}
	}
	tray, trayOK := b.res.idle["ocm-tray tray"]
	head := b.res.idle["ocm-tray headless"]
	if trayOK && tray.rssMB > 15 {
		missed = append(missed, "idle RSS with the tray")
	}
	for who, r := range map[string]idleRes{"headless": head, "tray": tray} {
		if r.window > 0 && r.cpuPct > 0.015 {
			missed = append(missed, "idle CPU "+who)
		}
	}
	if b.res.survived["ocm-tray"] > 0 {
		missed = append(missed, "survival")
	}
	if len(missed) == 0 {
		sb.WriteString("**Every target was met in this run**")
	} else {
		fmt.Fprintf(&sb, "**Targets missed in this run: %s**", strings.Join(missed, "; "))
	}
	if !trayOK {
		sb.WriteString(" (the tray-up idle figures were not measured: " + b.trayNote + ")")
	}
	sb.WriteString(".\n\n")

	// What each missed target is limited by.
	for _, k := range missed {
		switch k {
		case "stop":
			fmt.Fprintf(&sb, "- **stop (%s ms > 5 ms)**: the time is mostly outside the supervisor. "+
				"Starting the `ocm-tray` client binary alone takes %s ms (the CLI row: exec, Go runtime, the package "+
				"initialisers of everything the one binary links — tray, D-Bus, notifications, TOML — and paging in a "+
				"13 MB executable). The fake then takes its deliberate 2 ms from SIGTERM to SIGABRT (the real llama-server "+
				"takes 2–3 ms, docs/llama-server.md), and the kernel needs %s ms (median) to tear the dying process down before anyone "+
				"can reap it. With a child that exits at once on SIGTERM the same command takes %s ms to the child's exit, "+
				"so ocm-tray's own share (socket request → cancel → SIGTERM to the group → reap) is well under a millisecond "+
				"(an strace of the agent showed ~0.3 ms from reading `{\"cmd\":\"quit\"}` to `kill(-pgid, SIGTERM)`). "+
				"What would cut it: a lighter client path for `quit`/`stop`/`status` — the client commands should not link "+
				"tray/, notify/ and the D-Bus and systray libraries (a small separate client package or binary, or keeping "+
				"those imports out of cmd/ocm-tray's client code), which saves roughly 1 ms of init and page-ins. Against a "+
				"child with llama-server's own 2–3 ms shutdown, 5 ms from a command a user types is only reachable with a "+
				"client that starts in well under a millisecond: even runit's `sv`, a small C program, takes %s ms here to the child's exit.\n",
				n(med("stop", "ocm-tray")), n(med("cli", "ocm-tray")), n(b.res.figs["teardown"]["all"].median()),
				n(med("stop0", "ocm-tray")), n(med("stop", "runit")))
		case "crash":
			fmt.Fprintf(&sb, "- **crash detection (%s ms > 1 ms; spread %s – %s ms)**: the supervisor's own work is "+
				"tiny (BenchmarkCrashToRestarting: the whole in-process path from Exited to restarting published, tens of "+
				"microseconds). The rest is waking threads: the kernel wakes the thread blocked in waitid on the child's "+
				"pidfd, child.wait then waits for the stderr reader's EOF (another goroutine), closes Exited, and the Run "+
				"goroutine — locked to its own OS thread for the parent-death signal — must be woken on that very thread "+
				"(a futex wake and a context switch, never a hand-off to a running thread). On this 2-CPU virtual machine "+
				"each such wake costs tens to hundreds of microseconds, so the median sits at the 1 ms line and moves with "+
				"the host's load. What would fix it: spawn children from a dedicated locked thread that does nothing else "+
				"(the parent-death signal only needs the spawning thread to stay alive) and leave Run unlocked, so its "+
				"wake-ups are ordinary goroutine switches.\n",
				n(med("crash", "ocm-tray")), n(b.res.figs["crash"]["ocm-tray"].min()), n(b.res.figs["crash"]["ocm-tray"].max()))
		case "respawn":
			fmt.Fprintf(&sb, "- **respawn overhead (%s ms > 3 ms)**: the backoff timer's lateness plus fork/exec of "+
				"the child from a thread-locked goroutine (Run pins its OS thread for the parent-death signal).\n", n(med("respawn", "ocm-tray")))
		case "ready":
			fmt.Fprintf(&sb, "- **readiness (%s ms > 20 ms)**: the ready marker on stderr should trigger a probe at "+
				"once; without it the starting poll doubles up to 250 ms.\n", n(med("ready", "ocm-tray")))
		case "stopign":
			fmt.Fprintf(&sb, "- **SIGTERM-ignoring stop (%s ms over stop_timeout)**: includes starting the client "+
				"(%s ms) and the kernel's teardown.\n", n(med("stopign", "ocm-tray")), n(med("cli", "ocm-tray")))
		case "idle RSS with the tray":
			fmt.Fprintf(&sb, "- **idle RSS with the tray (%s MB > 15 MB)**: the tray adds godbus and systray's "+
				"D-Bus objects and icon pixmaps to the headless agent's %s MB.\n", n(tray.rssMB), n(head.rssMB))
		case "idle CPU headless", "idle CPU tray":
			if idleExplained {
				continue
			}
			idleExplained = true
			q := b.res.idle["ocm-tray headless, no probes (1 h interval)"]
			floor := b.res.idle[floorName]
			probes := head.window.Seconds() / 5
			perProbe := (head.cpuMS - q.cpuMS) / probes
			fmt.Fprintf(&sb, "- **idle CPU (headless %s %%, tray %s %% > 0.015 %%)**: in the same window the same agent "+
				"with a 1 h health interval (no probe at all) used %s %% (%s ms), so the ~%.0f probes cost about %s ms of "+
				"CPU each, against ~0.05 ms for BenchmarkProbe in a hot loop. The difference is waking up: a bare Go "+
				"process that does nothing but wake every 5 s (bench/gofloor) used %s %% in the same window, so the Go "+
				"runtime's own wake-up (timer, netpoller, sysmon, a spinning thread) already costs about %s ms here, "+
				"and thread wake-ups are expensive on this virtual machine: the same loop in C costs nothing measurable. "+
				"The probe itself is already lean (one goroutine, a fresh loopback connection, a hand-written GET, no "+
				"net/http transport goroutines). The budget of 0.015 %% at a 5 s interval is 0.75 ms per interval, "+
				"about the runtime floor itself; what remains would need fewer wake-ups per probe (a longer "+
				"health_check_interval does exactly that: the cost scales with the probe rate). The sub-window spread "+
				"shows how much other load on the host moves these figures.\n",
				n(head.cpuPct), n(tray.cpuPct), n(q.cpuPct), n(q.cpuMS), probes, n(perProbe),
				n(floor.cpuPct), n(floor.cpuMS/probes))
		case "survival":
			sb.WriteString("- **survival**: a child outlived a SIGKILLed agent: the parent-death signal did not fire.\n")
		}
	}
	if len(missed) > 0 {
		sb.WriteString("\n")
	}

	// Against the peers.
	if b.peersOK {
		fmt.Fprintf(&sb, "Against the peers, on the same machine in the same run:\n\n")
		fmt.Fprintf(&sb, "- Restart after a crash (child exit → new child, minus any configured delay): ocm-tray %s ms, "+
			"supervisord %s ms, runit %s ms. supervisord notices the exit quickly (its SIGCHLD handler) but only "+
			"respawns on the next turn of its 1 s poll loop; runsv, a small C program, restarts at once. ocm-tray "+
			"adds its configured backoff on top (here %s; default 500 ms, doubling) — by design, against crash loops.\n",
			n(med("exit2new", "ocm-tray")), n(med("exit2new", "supervisord")), n(med("exit2new", "runit")), backoff)
		fmt.Fprintf(&sb, "- Stop: ocm-tray %s ms to the child's exit, supervisord %s ms (`supervisorctl` is a Python "+
			"program: most of it is the interpreter starting), runit %s ms (`sv` is C and returns at once; the "+
			"stop itself happens in runsv).\n", n(med("stop", "ocm-tray")), n(med("stop", "supervisord")), n(med("stop", "runit")))
		fmt.Fprintf(&sb, "- A child ignoring SIGTERM: ocm-tray kills its group %s ms after stop_timeout; supervisord "+
			"%s ms after stopwaitsecs; runit escalates only through `sv force-stop`, whose -w wait is polled "+
			"(%s ms late). runsv itself never escalates: a plain `sv down` leaves such a child running.\n",
			n(med("stopign", "ocm-tray")), n(med("stopign", "supervisord")), n(med("stopign", "runit")))
		fmt.Fprintf(&sb, "- Orphans: after a SIGKILL of the supervisor the child survived under supervisord in %d of %d runs "+
			"and under runsv in %d of %d; under ocm-tray in %d of %d (its parent-death signal kills the child %s ms after the agent dies).\n",
			b.res.survived["supervisord"], b.res.survivalRuns["supervisord"], b.res.survived["runit"], b.res.survivalRuns["runit"],
			b.res.survived["ocm-tray"], b.res.survivalRuns["ocm-tray"], n(med("death", "ocm-tray")))
		if s, ok := b.res.idle["supervisord"]; ok {
			r := b.res.idle["runit"]
			fmt.Fprintf(&sb, "- Idle: ocm-tray headless %s MB / %s %% CPU (it probes /health every 5 s; neither peer "+
				"checks health at all); supervisord %s MB / %s %% (a Python process waking every second); runsv %s MB / "+
				"%s %% (a C program asleep in poll). runit is the floor; ocm-tray sits between the two while doing more.\n",
				n(head.rssMB), n(head.cpuPct), n(s.rssMB), n(s.cpuPct), n(r.rssMB), n(r.cpuPct))
		}
		sb.WriteString("\n")
	}
	sb.WriteString(`Readiness has no peer figure: neither supervisord nor runit asks the server whether it is ready
(supervisord's RUNNING means "alive for startsecs", here 0 s). The bench leaves out the real
llama-server; the fake reproduces its timings from docs/llama-server.md (load window, shutdown by SIGABRT).
`)
	return sb.String()
}
