package supervisor

import "syscall"

// setPdeathsig makes the kernel SIGKILL the child when the thread that
// spawned it exits. Every spawn happens on one dedicated, locked OS thread
// (thread.go) that lives until the last child is reaped, so the signal fires
// only when the agent itself dies.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
