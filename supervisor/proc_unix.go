//go:build unix

package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// sysProcAttr puts the child in its own process group, so a stop reaches
// anything it forked and a Ctrl-C in the agent's terminal does not hit it
// directly (we signal it once, ourselves). On Linux the parent-death signal
// kills it if the agent dies, even by SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(a)
	return a
}

// group is the started child's process group.
type group struct{ p *os.Process }

// contain returns the group of a child just started; the process group
// itself came with the start.
func contain(cmd *exec.Cmd) (*group, error) { return &group{cmd.Process}, nil }

// terminate sends SIGTERM to the child's group, once. llama-server treats a
// second signal during shutdown as "terminate immediately", and a
// stop_timeout SIGKILL follows anyway.
func (g *group) terminate() error { return signalGroup(g.p, syscall.SIGTERM) }

func (g *group) kill() error { return signalGroup(g.p, syscall.SIGKILL) }

// release has nothing to free: a process group holds no resource of ours.
func (g *group) release() {}

func signalGroup(p *os.Process, sig syscall.Signal) error {
	err := syscall.Kill(-p.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // already gone
	}
	return err
}

// exitHow names an exit status or the signal that ended the process.
func exitHow(ps *os.ProcessState) string {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by %s", signalName(ws.Signal()))
	}
	return fmt.Sprintf("exited with status %d", ps.ExitCode())
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGABRT: "SIGABRT", syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGINT: "SIGINT", syscall.SIGBUS: "SIGBUS",
		syscall.SIGILL: "SIGILL", syscall.SIGFPE: "SIGFPE", syscall.SIGHUP: "SIGHUP",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d (%s)", int(s), s)
}
