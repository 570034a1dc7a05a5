//go:build unix && !linux

package supervisor

import "syscall"

// identify asks ps: macOS and the BSDs have no /proc to read.
func identify(pid int) (identity, error) { return psIdentify(pid) }

// processAlive reports whether pid exists. A zombie cannot be a leftover:
// whoever adopted it reaps it.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
