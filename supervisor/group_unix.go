//go:build unix

package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// A child and everything it starts live in one process group of their own,
// and the group ends with the child and with the agent:
//
//   - The child is rarely alone. A wrapper script that does not exec
//     (`sh -c 'llama-server ...'`) is the child and llama-server its child;
//     in router mode llama-server forks one server per model. Each of them
//     holds the port and the memory, so each must end when the child does
//     and when the agent does, even by SIGKILL.
//   - The parent-death signal reaches only the direct child (and is
//     Linux-only); a child subreaper only moves orphans to us while we live;
//     cgroups need a delegation a desktop session may not give.
//   - So the group is led by a keeper: a tiny /bin/sh whose stdin is a pipe
//     that only the agent can write to. However the agent dies, the kernel
//     closes that pipe, `read` sees end-of-file and the keeper SIGKILLs its
//     own group: the child and all it started. It works on every unix, costs
//     one idle shell per child, and needs no hook in the agent's main (as a
//     re-executed copy of our own binary would).
//   - The keeper leads the group, so the group id stays taken until we reap
//     the keeper, after the child: the final SIGKILL to the group can never
//     reach processes that reused the id.

// keeperScript waits for end-of-file on stdin, then kills its process
// group. It ignores the SIGTERM sent to the group to stop the child: it
// must outlive the child.
const keeperScript = `trap '' HUP INT TERM; while read -r _; do :; done; kill -s KILL 0`

// group is the process group of one child.
type group struct {
	pgid     int
	keeper   *exec.Cmd
	lifeline *os.File // the write end of the keeper's stdin; only the agent holds it

	mu       sync.Mutex
	released bool // the keeper is reaped: pgid may name another group now
}

// startChild starts cmd in a new process group led by a keeper.
func startChild(cmd *exec.Cmd) (*group, error) {
	r, w, err := os.Pipe() // close-on-exec: no other child inherits the write end
	if err != nil {
		return nil, err
	}
	k := exec.Command("/bin/sh", "-c", keeperScript)
	k.Stdin = r
	k.Dir = "/" // never keep a removable drive or a deleted folder busy
	k.Env = []string{"PATH=/usr/bin:/bin"}
	k.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = k.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("its process group keeper /bin/sh did not start: %w", err)
	}
	g := &group{pgid: k.Process.Pid, keeper: k, lifeline: w}
	// In the keeper's group, so a stop reaches anything the child forked and
	// a Ctrl-C in the agent's terminal does not hit it directly (we signal
	// it once, ourselves). On Linux the parent-death signal also ends the
	// child itself at once if the agent dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: g.pgid}
	setPdeathsig(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		g.release()
		return nil, err
	}
	return g, nil
}

// terminate sends SIGTERM to the group, once. llama-server treats a second
// signal during shutdown as "terminate immediately", and a stop_timeout
// SIGKILL follows anyway.
func (g *group) terminate() error { return g.signal(syscall.SIGTERM) }

// kill SIGKILLs everything in the group, the keeper included.
func (g *group) kill() error { return g.signal(syscall.SIGKILL) }

func (g *group) signal(sig syscall.Signal) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.released {
		return nil
	}
	err := syscall.Kill(-g.pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // already gone
	}
	return err
}

// release ends the group once the child was reaped: whatever the child left
// running dies now, before its exit is reported, and the keeper is reaped.
func (g *group) release() {
	g.kill()
	g.mu.Lock()
	g.released = true
	g.mu.Unlock()
	g.lifeline.Close()
	g.keeper.Wait()
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
