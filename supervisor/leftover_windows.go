package supervisor

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// The job object's kill-on-close ends the child with the agent, so a
// leftover is rare: a child that was never contained, or a job that was
// escaped. There is no /proc: the process is asked for its image path and
// creation time, which together tell our llama-server from a process that
// reused its pid.

// isOurServer reports whether pid runs binary and was created at started
// (100 ns ticks since 1601, as the pid file records it).
func isOurServer(pid int, binary string, started uint64) bool {
	if binary == "" || started == 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	if !running(h) || creationTime(h) != started {
		return false
	}
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return false
	}
	image := windows.UTF16ToString(buf[:n])
	if resolved, err := filepath.EvalSymlinks(binary); err == nil {
		binary = resolved
	}
	if abs, err := filepath.Abs(binary); err == nil {
		binary = abs
	}
	// Windows file names ignore case.
	return strings.EqualFold(filepath.Clean(image), filepath.Clean(binary))
}

// processStarted returns pid's creation time, or 0 if it cannot be read.
func processStarted(pid int) uint64 {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return 0
	}
	defer windows.CloseHandle(h)
	return creationTime(h)
}

func creationTime(h windows.Handle) uint64 {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return 0
	}
	return uint64(created.HighDateTime)<<32 | uint64(created.LowDateTime)
}

// running reports whether the process behind h has not ended yet.
func running(h windows.Handle) bool {
	ev, err := windows.WaitForSingleObject(h, 0)
	return err == nil && ev == uint32(windows.WAIT_TIMEOUT)
}

// processAlive reports whether pid exists and has not ended.
func processAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	return running(h)
}

// signalLeftover terminates the leftover. Its console is not ours, so a
// console control event cannot reach it: there is no gentler way to ask.
func signalLeftover(pid int, _ bool) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE|windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return nil // gone meanwhile
	}
	defer windows.CloseHandle(h)
	if err := windows.TerminateProcess(h, 1); err != nil && running(h) {
		return err
	}
	return nil
}
