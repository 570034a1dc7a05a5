//go:build unix

package supervisor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// isOurServer reports whether pid runs binary. On Linux /proc/PID/exe names
// the executable (with " (deleted)" if it was replaced since); elsewhere the
// check falls back to the process existing, which the binary line in the pid
// file cannot confirm. The creation time is not recorded here.
func isOurServer(pid int, binary string, _ uint64) bool {
	if !processAlive(pid) {
		return false
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	if binary == "" {
		return false
	}
	if resolved, err := filepath.EvalSymlinks(binary); err == nil {
		binary = resolved
	}
	return filepath.Clean(exe) == binary
}

// processStarted is 0: the pid file records no creation time on Unix.
func processStarted(int) uint64 { return 0 }

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no procfs: kill(0) said it exists
	}
	// Field 3, after "pid (comm)", is the state; Z is a zombie.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// signalLeftover signals the leftover's process group (it was started with
// its own group) and the process itself.
func signalLeftover(pid int, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-pid, sig)
	if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}
