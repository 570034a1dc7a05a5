//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package fakellama

import (
	"os"
	"syscall"
)

var termSignals = []os.Signal{os.Interrupt}

func setReusePort(_, _ string, _ syscall.RawConn) error { return nil }

// Without POSIX signals the deaths become exit codes: 3 is what abort()
// gives on Windows.
func dieByAbort()             { os.Exit(3) }
func dieBySegv()              { os.Exit(1) }
func dieBySignal(_ os.Signal) { os.Exit(1) }
func dieByKill()              { os.Exit(1) }
