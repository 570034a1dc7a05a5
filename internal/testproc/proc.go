package testproc

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// stopGrace is how long a child may take to exit after the polite signal
// at the end of a test before it is killed (shorter in this package's own
// tests).
var stopGrace = 10 * time.Second

// Proc is a child started by Start.
type Proc struct {
	// Cmd is the started command; Cmd.ProcessState is set once Done is
	// closed.
	Cmd *exec.Cmd
	// Stdout and Stderr collect what the child writes, where Cmd did not
	// send it elsewhere.
	Stdout, Stderr *Output

	done chan struct{}
	err  error
}

// Start starts cmd and reaps it when it exits. When the test ends a child
// still running is asked to stop (SIGTERM where there are signals) and
// killed if it has not exited after a grace period; either way the test's
// cleanup returns only once it is reaped.
func Start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, Stdout: &Output{}, Stderr: &Output{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

// Done is closed once the child exited and was reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has exited (and was reaped).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits until the child exited, failing the test if it does not
// within testenv.WaitLimit, and returns what cmd.Wait returned.
func (p *Proc) Wait(t testing.TB) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(testenv.WaitLimit):
		t.Fatalf("%s did not exit within %v; stderr:\n%s", p.Cmd.Path, testenv.WaitLimit, p.Stderr)
		return nil
	}
}

// Signal sends sig to the child, failing the test if it cannot.
func (p *Proc) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

func (p *Proc) stop() {
	if p.Exited() {
		return
	}
	if err := p.Cmd.Process.Signal(terminate); err != nil {
		p.Cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		p.Cmd.Process.Kill()
		<-p.done
	}
}

// Output collects a child's stdout or stderr; a test may read it while the
// child writes.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Alive reports whether process pid runs and is not a zombie (Linux /proc;
// false elsewhere): a child that died but was not reaped yet counts as
// dead.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	// Field 3, after "pid (comm)", is the state; Z is a zombie.
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
