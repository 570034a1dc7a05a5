package fakellama

import (
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dieBySignal kills the process with sig so that its wait status is "killed
// by sig", like a C program's raise(). Go's runtime would turn a raised
// SIGABRT or SIGSEGV into a goroutine dump and exit 2, so the disposition is
// set to SIG_DFL behind the runtime's back (the runtime never looks again:
// the process is about to die) and the signal is sent to this very thread.
// The core-size limit is set to 0 so no core file is left behind.
func dieBySignal(s os.Signal) {
	sig, ok := s.(syscall.Signal)
	if !ok {
		os.Exit(1)
	}
	runtime.LockOSThread()
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	// A zeroed kernel struct sigaction is SIG_DFL with no flags and an empty
	// mask on every Linux architecture. The sigset size is 8 bytes, except
	// on MIPS (16).
	var act [64]byte
	for _, setsize := range []uintptr{8, 16} {
		_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act[0])), 0, setsize, 0, 0)
		if errno != unix.EINVAL {
			break
		}
	}
	var set unix.Sigset_t // unblock it on this thread, in case
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&set)), 0, unsafe.Sizeof(set), 0, 0)
	_ = unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
	_ = unix.Kill(unix.Getpid(), sig)
	os.Exit(128 + int(sig)) // not reached
}
