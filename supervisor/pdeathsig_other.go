//go:build unix && !linux

package supervisor

import "syscall"

// setPdeathsig: only Linux has a parent-death signal. Elsewhere the pid file
// lets the next start find and stop a leftover child.
func setPdeathsig(*syscall.SysProcAttr) {}
