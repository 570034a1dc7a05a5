package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procRoot is where procfs is mounted; a test points it elsewhere to run
// the code for systems without one.
var procRoot = "/proc"

func procMounted() bool {
	_, err := os.Stat(filepath.Join(procRoot, "self"))
	return err == nil
}

// identify reads pid's executable and start time from procfs: the start is
// field 22 of /proc/PID/stat, in clock ticks since boot. Without procfs it
// asks ps.
func identify(pid int) (identity, error) {
	if !procMounted() {
		return psIdentify(pid)
	}
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return identity{}, err
	}
	f := statFields(b)
	if len(f) < 20 {
		return identity{}, errors.New(dir + "/stat: too few fields")
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return identity{}, errors.New(dir + "/stat: bad start time")
	}
	exe, err := os.Readlink(filepath.Join(dir, "exe"))
	if err != nil {
		return identity{}, err
	}
	// Only init starts at tick 0, and init is never a leftover: 0 stays
	// "unknown".
	return identity{exe: exe, start: start, zombie: f[0] == "Z"}, nil
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return true // no procfs: kill(0) said it exists
	}
	f := statFields(b)
	return len(f) == 0 || f[0] != "Z" // Z: a zombie
}

// statFields splits /proc/PID/stat from its third field, the state, on:
// the second, "(comm)", may hold spaces and ')' itself, so it ends at the
// last ')'.
func statFields(b []byte) []string {
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}
