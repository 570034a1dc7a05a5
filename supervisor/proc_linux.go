package supervisor

import "syscall"

// setPdeathsig makes the kernel SIGKILL the child when the thread that
// spawned it exits. Run locks its goroutine to one OS thread for its whole
// life, so that thread outlives the child unless the agent itself dies.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
