package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/logfile"
)

// proc is a running child as the state machine sees it. The real one is
// *child; tests substitute a fake that needs no process and no clock.
type proc interface {
	Pid() int
	// Exited is closed once the child has been reaped.
	Exited() <-chan struct{}
	// Exit says how it ended, its most telling stderr line (last_error),
	// what to do and whether retrying can help. Valid after Exited is
	// closed.
	Exit() diagnosis
	// Ready receives a token whenever the child logs that it is ready to
	// serve: a hint to probe at once rather than at the next tick.
	Ready() <-chan struct{}
	// Terminate asks the child's process group to stop (SIGTERM once).
	Terminate() error
	// Kill kills the child's process group. Safe to call more than once, and
	// after the child exited.
	Kill() error
}

// readyMarkers are what llama-server prints on stderr once it serves
// requests: early-2025 builds end "main: server is listening on
// http://H:P - starting the main loop"; current ones print "llama_server:
// model loaded" and "llama_server: listening on http://H:P" (their port was
// open, answering 503, long before). Each marker triggers a probe; the
// early builds' "main: model loaded" comes before /health turns 200 and is
// no marker.
var readyMarkers = []string{"starting the main loop", "llama_server: model loaded", "llama_server: listening on http://"}

// isReadyLine reports whether a raw stderr line is one of readyMarkers.
func isReadyLine(line string) bool {
	for _, m := range readyMarkers {
		if strings.Contains(line, m) {
			return true
		}
	}
	return false
}

// tailLines is how many of the child's last stderr lines are kept for
// last_error.
const tailLines = 16

// drainGrace bounds the wait, after the child was reaped and its group
// killed, for the last of its output. Only a process that left the group
// (setsid) can hold the pipes open longer; its lines are still drained (it
// never blocks on a full pipe) and go to the log until the log is closed or
// replaced at the next spawn, then nowhere. They are just no longer waited
// for.
const drainGrace = time.Second

// maxLine bounds one log write; a longer line is written in pieces.
const maxLine = 64 << 10

// child is a real llama-server process.
type child struct {
	cmd     *exec.Cmd
	group   *group
	exited  chan struct{}
	ready   chan struct{}
	drained chan struct{} // closed when stdout and stderr both reached EOF
	pending atomic.Int32  // pipes not at EOF yet
	log     io.Writer

	mu   sync.Mutex
	tail []string // last stderr lines, guarded by mu
	err  error    // from Wait

	// modelEvents is poked (coalesced) when a line says a router's model
	// changed state (router.go).
	modelEvents chan struct{}
}

// spawn starts c in a process group of its own (startChild), its stdout
// and stderr drained by us into log (nil: discarded, but the last stderr
// lines still feed last_error). It must be called from the goroutine that will outlive
// the child (see Run: the parent-death signal is tied to the spawning OS
// thread). Its errors are one sentence a person can act on.
func spawn(c *Command, log *logfile.File) (proc, error) {
	var out io.Writer = io.Discard
	if log != nil {
		out = log
	}
	// Both pipes are plain files that we read ourselves: Wait returns as
	// soon as the child is reaped, never waiting on a copy that a grandchild
	// holding the pipes would keep open, and no copy stops at a failed log
	// write and leaves the child to die of SIGPIPE.
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for range 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("cannot start %s: %w", c.Path, err)
		}
		files = append(files, r, w)
	}
	outR, outW, errR, errW := files[0], files[1], files[2], files[3]
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.Stdout, cmd.Stderr = outW, errW
	g, err := startChild(cmd)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == cmd.Path {
			return nil, startError(c.Path, err)
		}
		return nil, fmt.Errorf("cannot start %s: %w", c.Path, err)
	}
	io.WriteString(out, separator(time.Now(), cmd.Process.Pid, c.Path, c.Args))
	ch := &child{cmd: cmd, group: g, exited: make(chan struct{}), ready: make(chan struct{}, 1), drained: make(chan struct{}), log: out,
		modelEvents: make(chan struct{}, 1)}
	ch.pending.Store(2)
	go ch.drain(outR, false)
	go ch.drain(errR, true)
	go ch.wait()
	return ch, nil
}

// drain copies one of the child's pipes to the log, a line per write, until
// the last process holding the pipe closes it. It never stops early:
// whatever happens to the log, the child never blocks on a full pipe nor
// dies of SIGPIPE. Stderr lines also feed the tail and the ready markers.
func (c *child) drain(r *os.File, stderr bool) {
	defer func() {
		r.Close()
		if c.pending.Add(-1) == 0 {
			close(c.drained)
		}
	}()
	br := bufio.NewReaderSize(r, maxLine)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			line := b
			if b[len(b)-1] != '\n' && err != bufio.ErrBufferFull {
				line = append(b[:len(b):len(b)], '\n') // the last line, unterminated
			}
			c.log.Write(line)
			if stderr {
				text := strings.TrimRight(string(b), "\r\n")
				c.mu.Lock()
				if len(c.tail) == tailLines {
					copy(c.tail, c.tail[1:])
					c.tail = c.tail[:tailLines-1]
				}
				c.tail = append(c.tail, text)
				c.mu.Unlock()
				if isReadyLine(text) {
					select {
					case c.ready <- struct{}{}:
					default: // a probe is already asked for
					}
				}
				if modelEvent(text) {
					select {
					case c.modelEvents <- struct{}{}:
					default:
					}
				}
			}
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

func (c *child) wait() {
	err := c.cmd.Wait()
	// The child is reaped. What it started goes with it, before its exit is
	// reported: a grandchild left running would hold the port (every
	// restart would find it "already in use") and the memory.
	c.group.release()
	// All the child wrote is in the pipes; with the group gone the readers
	// reach EOF within microseconds.
	t := time.NewTimer(drainGrace)
	select {
	case <-c.drained:
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
func (c *child) Terminate() error        { return c.group.terminate() }

func (c *child) Kill() error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	return c.group.kill()
}

// ModelEvents is poked when the child's output says one of a router's
// models changed state.
func (c *child) ModelEvents() <-chan struct{} { return c.modelEvents }

// Tail is the child's last stderr lines, oldest first: in router mode
// they hold the lines of a model server that failed to load.
func (c *child) Tail() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.tail...)
}

func (c *child) Exit() diagnosis {
	c.mu.Lock()
	defer c.mu.Unlock()
	return diagnoseExit(describeWait(c.err), c.tail)
}

// describeWait names how the child ended, from its Wait error.
func describeWait(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exited with status 0"
	case errors.As(err, &ee):
		return exitHow(ee.ProcessState)
	default:
		return err.Error()
	}
}
