//go:build unix

package supervisor

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// identity is what tells a process from a later one that reuses its pid.
type identity struct {
	exe    string // the executable: a path, or (from ps) maybe only a short name
	start  uint64 // when it started; 0 if unknown
	zombie bool   // it has exited; its parent has not reaped it yet
}

// psStartMark marks a start time read from ps (seconds since 1970), so it
// never equals one read from procfs (clock ticks since boot).
const psStartMark = 1 << 63

// isOurServer reports whether pid is still the process the pid file
// recorded: the same binary, started at started (see processStarted).
func isOurServer(pid int, binary string, started uint64) bool {
	if binary == "" || started == 0 || !processAlive(pid) {
		return false
	}
	id, err := identify(pid)
	return err == nil && !id.zombie && id.start == started && sameBinary(id.exe, binary)
}

// processStarted returns when pid started, for the pid file; 0 if that
// cannot be told.
func processStarted(pid int) uint64 {
	id, err := identify(pid)
	if err != nil {
		return 0
	}
	return id.start
}

// sameBinary reports whether exe, as the system names a process's
// executable, is binary. A short name (ps on the BSDs) may be cut to the
// kernel's 15 to 19 characters.
func sameBinary(exe, binary string) bool {
	exe = strings.TrimSuffix(exe, " (deleted)") // replaced since it started
	if !filepath.IsAbs(exe) {
		base := filepath.Base(binary)
		return exe == base || (len(exe) >= 15 && strings.HasPrefix(base, exe))
	}
	resolve := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return filepath.Clean(p)
	}
	return resolve(exe) == resolve(binary)
}

// psIdentify asks ps(1), which every unix has, when pid started and what it
// runs: the portable way where there is no /proc (macOS, the BSDs). Times
// are read in UTC and the C locale.
func psIdentify(pid int) (identity, error) {
	cmd := exec.Command("ps", "-o", "lstart=", "-o", "stat=", "-o", "comm=", "-p", strconv.Itoa(pid))
	cmd.Env = []string{"LC_ALL=C", "TZ=UTC", "PATH=/bin:/usr/bin"}
	out, err := cmd.Output()
	if err != nil {
		return identity{}, err
	}
	// "Tue Dec  1 15:11:32 2026 Ss llama-server": five words of time, the
	// state, then the command, which may hold spaces.
	f := strings.Fields(string(out))
	if len(f) < 7 {
		return identity{}, fmt.Errorf("ps -p %d: no such process", pid)
	}
	t, err := time.Parse("Mon Jan 2 15:04:05 2006", strings.Join(f[:5], " "))
	if err != nil {
		return identity{}, fmt.Errorf("ps -p %d: start time: %w", pid, err)
	}
	return identity{
		exe:    strings.Join(f[6:], " "),
		start:  psStartMark | uint64(t.Unix()),
		zombie: strings.HasPrefix(f[5], "Z"),
	}, nil
}

// signalLeftover signals the leftover's process group (everything it
// started) and the process itself.
func signalLeftover(pid int, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
		syscall.Kill(-pgid, sig)
	}
	if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}
