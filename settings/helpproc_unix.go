//go:build unix

package settings

import (
	"os/exec"
	"syscall"
)

// ownGroup runs cmd in a process group of its own, and a timeout kills the
// whole group: whatever a hung `--help` started goes with it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
