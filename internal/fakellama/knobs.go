package fakellama

import (
	"fmt"
	"strconv"
	"time"
)

// The environment variables that steer the fake (see the package doc).
const (
	EnvLoad            = "FAKE_LLAMA_LOAD"
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
)

// Crash modes for FAKE_LLAMA_CRASH_MODE.
const (
	CrashExit1 = "exit1" // exit status 1
	CrashAbort = "abort" // killed by SIGABRT (the default)
	CrashSegv  = "segv"  // killed by SIGSEGV
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
}

func readKnobs(getenv func(string) string) (knobs, error) {
	k := knobs{
		load: 50 * time.Millisecond, startDelay: 5 * time.Millisecond, shutdownDelay: 2 * time.Millisecond,
		crashAfter: off, hangAfter: off, unhealthyAfter: off,
		crashMode: CrashAbort, unhealthyStatus: 500,
		pidfile: getenv(EnvPidfile),
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
	integer(EnvUnhealthyStatus, &k.unhealthyStatus, 100, 599)
	integer(EnvStderrFlood, &k.flood, 0, 1<<30)
	boolean(EnvIgnoreSIGTERM, &k.ignoreTerm)
	boolean(EnvCleanExit, &k.cleanExit)
	boolean(EnvLoseLog, &k.loseLog)
	boolean(EnvNoRouter, &k.noRouter)
	boolean(EnvNoSleep, &k.noSleep)
	if err != nil {
		return k, err
	}
	if v := getenv(EnvCrashMode); v != "" {
		switch v {
		case CrashExit1, CrashAbort, CrashSegv:
			k.crashMode = v
		default:
			return k, fmt.Errorf("%s=%q: want exit1, abort or segv", EnvCrashMode, v)
		}
	}
	return k, nil
}
