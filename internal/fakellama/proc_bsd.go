//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package fakellama

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dieBySignal kills the process with sig. Without a raw sigaction here, it
// lets the Go runtime do it: with GOTRACEBACK=crash the runtime re-raises a
// fatal signal with the default disposition. Its goroutine dump goes to
// /dev/null so stderr looks like the real server's. (The runtime re-raises
// SIGABRT for any fatal signal, so "segv" also ends as signal 6 here.)
func dieBySignal(s os.Signal) {
	sig, ok := s.(syscall.Signal)
	if !ok {
		os.Exit(1)
	}
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	signal.Reset(sig)
	if sig == unix.SIGABRT || sig == unix.SIGSEGV {
		if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
			_ = unix.Dup2(int(null.Fd()), 2)
		}
		debug.SetTraceback("crash")
	}
	_ = unix.Kill(unix.Getpid(), sig)
	for {
		time.Sleep(time.Second)
	}
}
