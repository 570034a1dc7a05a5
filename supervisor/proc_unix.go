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

func afterStart(*exec.Cmd) error { return nil }

// terminateGroup sends SIGTERM to the child's group, once. llama-server
// treats a second signal during shutdown as "terminate immediately", and a
// stop_timeout SIGKILL follows anyway.
func terminateGroup(p *os.Process) error { return signalGroup(p, syscall.SIGTERM) }

func killGroup(p *os.Process) error { return signalGroup(p, syscall.SIGKILL) }

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
