//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package fakellama

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

var termSignals = []os.Signal{unix.SIGTERM, unix.SIGINT}

// setReusePort sets SO_REUSEADDR and SO_REUSEPORT, as the real server's HTTP
// library does: a second server on the same port does not fail to bind.
func setReusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func dieByAbort() { dieBySignal(unix.SIGABRT) }
func dieBySegv()  { dieBySignal(unix.SIGSEGV) }
func dieByKill()  { dieBySignal(unix.SIGKILL) }
