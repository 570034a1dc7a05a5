package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/logfile"
)

// proc is a running child as the state machine sees it. The real one is
// *child; tests substitute a fake that needs no process and no clock.
type proc interface {
	Pid() int
	// Exited is closed once the child has been reaped.
	Exited() <-chan struct{}
	// ExitText describes how it ended plus its most telling stderr line, for
	// last_error. Valid after Exited is closed.
	ExitText() string
	// Ready is closed when the child logs that it entered its main loop: a
	// hint to probe at once rather than at the next tick.
	Ready() <-chan struct{}
	// Terminate asks the child's process group to stop (SIGTERM once).
	Terminate() error
	// Kill kills the child's process group. Safe to call more than once, and
	// after the child exited.
	Kill() error
}

// readyMarker is what llama-server prints on stderr once it serves requests
// ("main: server is listening on http://H:P - starting the main loop").
const readyMarker = "starting the main loop"

// tailLines is how many of the child's last stderr lines are kept for
// last_error.
const tailLines = 16

// child is a real llama-server process.
type child struct {
	cmd     *exec.Cmd
	grp     *group
	exited  chan struct{}
	ready   chan struct{}
	readerD chan struct{} // closed when stderr reached EOF
	log     io.Writer

	mu   sync.Mutex
	tail []string // last stderr lines, guarded by mu
	err  error    // from Wait
}

// spawn starts cmd with its own process group, stdout and stderr going to
// logPath. It must be called from the goroutine that will outlive the child
// (see Run: the parent-death signal is tied to the spawning OS thread).
func spawn(c *Command, log *logfile.File) (proc, error) {
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.SysProcAttr = sysProcAttr()
	var out io.Writer = io.Discard
	if log != nil {
		out = log
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	// stdout is written straight to the log when we have one (llama-server
	// writes nothing there); stderr passes through us for last_error and the
	// ready marker.
	if log != nil {
		cmd.Stdout = out
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	pw.Close()
	grp, err := contain(cmd)
	if err != nil {
		// Could not contain the child (Windows job object): do not keep an
		// uncontained server around.
		cmd.Process.Kill()
		cmd.Wait()
		pr.Close()
		return nil, err
	}
	ch := &child{cmd: cmd, grp: grp, exited: make(chan struct{}), ready: make(chan struct{}), readerD: make(chan struct{}), log: out}
	go ch.readStderr(pr)
	go ch.wait()
	return ch, nil
}

func (c *child) readStderr(r io.ReadCloser) {
	defer close(c.readerD)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	readySeen := false
	for sc.Scan() {
		line := sc.Text()
		c.log.Write(append([]byte(line), '\n'))
		c.mu.Lock()
		if len(c.tail) == tailLines {
			copy(c.tail, c.tail[1:])
			c.tail = c.tail[:tailLines-1]
		}
		c.tail = append(c.tail, line)
		c.mu.Unlock()
		if !readySeen && strings.Contains(line, readyMarker) {
			readySeen = true
			close(c.ready)
		}
	}
	// A line longer than the buffer ends the scan: drain the rest to the log
	// so the child never blocks on a full pipe.
	io.Copy(c.log, r)
}

func (c *child) wait() {
	err := c.cmd.Wait()
	c.grp.release()
	// The kernel closed the child's end of the pipe when it exited: the
	// reader reaches EOF within microseconds. Bound the wait anyway, in case
	// a grandchild inherited stderr.
	t := time.NewTimer(100 * time.Millisecond)
	select {
	case <-c.readerD:
	case <-t.C:
	}
	t.Stop()
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.exited)
}

func (c *child) Pid() int                { return c.cmd.Process.Pid }
func (c *child) Exited() <-chan struct{} { return c.exited }
func (c *child) Ready() <-chan struct{}  { return c.ready }
func (c *child) Terminate() error        { return c.grp.terminate() }

func (c *child) Kill() error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	return c.grp.kill()
}

func (c *child) ExitText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return describeExit(c.err, c.tail)
}

// describeExit turns a Wait error and the last stderr lines into a
// last_error a person can use: how it ended, then the most telling line.
func describeExit(err error, tail []string) string {
	how := "exited with status 0"
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		how = exitHow(ee.ProcessState)
	default:
		how = err.Error()
	}
	if line := tellingLine(tail); line != "" {
		return how + ": " + line
	}
	return how
}

// tellingLine picks the most telling of the last stderr lines: an error
// line among the last few, else the last non-empty line. Of a run of error
// lines the first is taken: a failure cascades ("invalid magic characters",
// then four "failed to load model" lines, then "exiting due to model
// loading error") and its first line names the cause. libstdc++'s
// "terminate called without an active exception" is not an error line
// here: llama-server prints it on every abort, a clean SIGTERM included, so
// it would hide the line that says why (it is still the fallback).
func tellingLine(tail []string) string {
	const lookBack = 8
	start := max(0, len(tail)-lookBack)
	isError := func(s string) bool {
		l := strings.ToLower(s)
		return strings.Contains(l, "error") || strings.Contains(l, "failed") || strings.Contains(l, "couldn't") ||
			strings.Contains(l, "cannot") || strings.Contains(l, "invalid")
	}
	for i := len(tail) - 1; i >= start; i-- {
		if isError(tail[i]) {
			for i > start && isError(tail[i-1]) {
				i--
			}
			return strings.TrimSpace(tail[i])
		}
	}
	for i := len(tail) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(tail[i]); s != "" {
			return s
		}
	}
	return ""
}
