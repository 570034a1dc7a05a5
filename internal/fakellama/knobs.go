package fakellama

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The environment variables that steer the fake (see the package doc).
const (
	EnvLoad            = "FAKE_LLAMA_LOAD"
	EnvLoadUntil       = "FAKE_LLAMA_LOAD_UNTIL"
	EnvStartDelay      = "FAKE_LLAMA_START_DELAY"
	EnvCrashAfter      = "FAKE_LLAMA_CRASH_AFTER"
	EnvCrashMode       = "FAKE_LLAMA_CRASH_MODE"
	EnvHangAfter       = "FAKE_LLAMA_HANG_AFTER"
	EnvUnhealthyAfter  = "FAKE_LLAMA_UNHEALTHY_AFTER"
	EnvUnhealthyStatus = "FAKE_LLAMA_UNHEALTHY_STATUS"
	EnvIgnoreSIGTERM   = "FAKE_LLAMA_IGNORE_SIGTERM"
	EnvCleanExit       = "FAKE_LLAMA_CLEAN_EXIT"
	EnvShutdownDelay   = "FAKE_LLAMA_SHUTDOWN_DELAY"
	EnvLoseLog         = "FAKE_LLAMA_LOSE_LOG"
	EnvStderrFlood     = "FAKE_LLAMA_STDERR_FLOOD"
	EnvPidfile         = "FAKE_LLAMA_PIDFILE"
	EnvNoRouter        = "FAKE_LLAMA_NO_ROUTER"
	EnvNoSleep         = "FAKE_LLAMA_NO_SLEEP"
	EnvEra             = "FAKE_LLAMA_ERA"
	EnvLoadError       = "FAKE_LLAMA_LOAD_ERROR"
	EnvLogColors       = "FAKE_LLAMA_LOG_COLORS"
	EnvGenerate        = "FAKE_LLAMA_GENERATE"
	EnvTPS             = "FAKE_LLAMA_TPS"
)

// Eras for FAKE_LLAMA_ERA: which llama-server build the fake plays.
const (
	// Era2025 is build 4748 (c392e50, February 2025): bare log lines, the
	// "starting the main loop" ready line, death by SIGABRT on SIGTERM and
	// on a bad model. The default.
	Era2025 = "2025"
	// Era2026 is a current build: every log line prefixed by the elapsed
	// time, a level letter and a component; "llama_server: model loaded"
	// and "llama_server: listening on http://..." when ready; exit 0 on
	// SIGTERM, exit 1 on a bad model or a taken port.
	Era2026 = "2026"
)

// Load errors for FAKE_LLAMA_LOAD_ERROR: how loading a good file fails.
const (
	LoadErrorArch = "arch" // the build does not know the model's architecture
	LoadErrorOOM  = "oom"  // not enough memory for the weights
)

// Crash modes for FAKE_LLAMA_CRASH_MODE.
const (
	CrashExit1 = "exit1" // exit status 1
	CrashAbort = "abort" // killed by SIGABRT (the default)
	CrashSegv  = "segv"  // killed by SIGSEGV
	CrashKill  = "kill"  // killed by SIGKILL with no last words, as the kernel's OOM killer does
)

// off marks an "after" knob that is not set.
const off time.Duration = -1

type knobs struct {
	load, startDelay, shutdownDelay       time.Duration
	crashAfter, hangAfter, unhealthyAfter time.Duration // off when unset
	crashMode                             string
	unhealthyStatus                       int
	ignoreTerm, cleanExit, loseLog        bool
	noRouter, noSleep                     bool
	flood                                 int
	pidfile                               string
	era                                   string
	loadError                             string // "" = the file decides
	colors                                bool
	generate                              time.Duration // how long a completion keeps its slot processing
	tps                                   float64       // tokens generated per second of processing
	loadUntil                             string        // a path: loading ends once it exists
}

func readKnobs(getenv func(string) string) (knobs, error) {
	k := knobs{
		load: 50 * time.Millisecond, startDelay: 5 * time.Millisecond, shutdownDelay: 2 * time.Millisecond,
		crashAfter: off, hangAfter: off, unhealthyAfter: off,
		crashMode: CrashAbort, unhealthyStatus: 500,
		pidfile: getenv(EnvPidfile), loadUntil: getenv(EnvLoadUntil), era: Era2025, tps: 38.2,
	}
	var err error
	dur := func(name string, dst *time.Duration) {
		v := getenv(name)
		if v == "" || err != nil {
			return
		}
		d, e := time.ParseDuration(v)
		if e != nil || d < 0 {
			err = fmt.Errorf("%s=%q: want a duration such as \"300ms\"", name, v)
			return
		}
		*dst = d
	}
	boolean := func(name string, dst *bool) {
		v := getenv(name)
		if v == "" || err != nil {
			return
		}
		b, e := strconv.ParseBool(v)
		if e != nil {
			err = fmt.Errorf("%s=%q: want 1 or 0", name, v)
			return
		}
		*dst = b
	}
	integer := func(name string, dst *int, lo, hi int) {
		v := getenv(name)
		if v == "" || err != nil {
			return
		}
		n, e := strconv.Atoi(v)
		if e != nil || n < lo || n > hi {
			err = fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, lo, hi)
			return
		}
		*dst = n
	}
	dur(EnvLoad, &k.load)
	dur(EnvStartDelay, &k.startDelay)
	dur(EnvShutdownDelay, &k.shutdownDelay)
	dur(EnvCrashAfter, &k.crashAfter)
	dur(EnvHangAfter, &k.hangAfter)
	dur(EnvUnhealthyAfter, &k.unhealthyAfter)
	dur(EnvGenerate, &k.generate)
	if v := getenv(EnvTPS); v != "" && err == nil {
		f, e := strconv.ParseFloat(v, 64)
		if e != nil || f <= 0 || f > 1e6 {
			err = fmt.Errorf("%s=%q: want tokens per second, such as 38.2", EnvTPS, v)
		}
		k.tps = f
	}
	integer(EnvUnhealthyStatus, &k.unhealthyStatus, 100, 599)
	integer(EnvStderrFlood, &k.flood, 0, 1<<30)
	boolean(EnvIgnoreSIGTERM, &k.ignoreTerm)
	boolean(EnvCleanExit, &k.cleanExit)
	boolean(EnvLoseLog, &k.loseLog)
	boolean(EnvNoRouter, &k.noRouter)
	boolean(EnvNoSleep, &k.noSleep)
	boolean(EnvLogColors, &k.colors)
	if err != nil {
		return k, err
	}
	choice := func(name string, dst *string, allowed ...string) {
		v := getenv(name)
		if v == "" || err != nil {
			return
		}
		for _, a := range allowed {
			if v == a {
				*dst = v
				return
			}
		}
		err = fmt.Errorf("%s=%q: want one of %s", name, v, strings.Join(allowed, ", "))
	}
	choice(EnvEra, &k.era, Era2025, Era2026)
	choice(EnvLoadError, &k.loadError, LoadErrorArch, LoadErrorOOM)
	if err != nil {
		return k, err
	}
	if k.era == Era2026 {
		k.cleanExit = true // current builds exit 0 on SIGTERM
	}
	if v := getenv(EnvCrashMode); v != "" {
		switch v {
		case CrashExit1, CrashAbort, CrashSegv, CrashKill:
			k.crashMode = v
		default:
			return k, fmt.Errorf("%s=%q: want exit1, abort, segv or kill", EnvCrashMode, v)
		}
	}
	return k, nil
}
