package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/control"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// regateGrace is how long start or restart --wait gives a refused
// spawn-gate to change its mind. From not_spawning the request re-runs the
// gate, and when it refuses again for the same reason the agent publishes
// nothing (only changes are published), so silence is the answer; a gate
// that now passes publishes starting within milliseconds (a file check, a
// port check bounded by a second, a spawn).
const regateGrace = 3 * time.Second

var (
	errWaitDone     = errors.New("the outcome is known")
	errGateNoChange = errors.New("the spawn-gate refused again")
)

// actAndWait subscribes to the agent's status stream, sends cmd, and prints
// every change after the request took effect up to the outcome: running
// (or stopped, for stop) exits 0; failed_after_max_restarts, not_spawning,
// or stopped when a start was asked, exit 1. Subscribing first means no
// change between the request and the wait can be missed.
func actAndWait(cl *control.Client, cmd string, stdout, stderr io.Writer) int {
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancelCause(sigCtx)
	defer cancel(nil)

	var w *waiter
	var grace *time.Timer
	done := false
	err := cl.Watch(ctx, func(_ []byte, ev status.Event) error {
		first := w == nil
		if first {
			// The first line is the status before the request.
			w = newWaiter(cmd, ev.Status)
			rctx, rcancel := context.WithTimeout(ctx, requestTimeout)
			err := cl.Do(rctx, cmd)
			rcancel()
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, askedLine(cmd))
			if w.needsGrace() {
				grace = time.AfterFunc(regateGrace, func() { cancel(errGateNoChange) })
			}
		} else if grace != nil {
			grace.Stop()
		}
		if !w.see(ev.Status) {
			return nil
		}
		if w.finished(ev.Status) {
			fmt.Fprintln(stdout, status.OneLine(ev.Status))
			done = true
			return errWaitDone
		}
		if !first { // the way there: starting, restarting (attempt n)
			fmt.Fprintln(stdout, status.OneLine(ev.Status))
		}
		return nil
	})
	if grace != nil {
		grace.Stop()
	}
	switch {
	case done:
		return w.exitCode()
	case errors.Is(context.Cause(ctx), errGateNoChange):
		// The status before the request stands.
		fmt.Fprintln(stdout, status.OneLine(w.before))
		w.last = w.before
		return w.exitCode()
	default:
		return waitEnded(sigCtx.Err() != nil, err, stderr)
	}
}

// waitEnded reports a wait that ended without its outcome: interrupted
// (Ctrl-C), the agent stopping (the watch stream ended after a stopped
// line that was not the outcome), or an error; exit 1, or 3 with no agent.
func waitEnded(interrupted bool, err error, stderr io.Writer) int {
	switch {
	case interrupted:
		fmt.Fprintln(stderr, "ocm-tray: stopped waiting")
		return exitError
	case err == nil:
		fmt.Fprintln(stderr, "ocm-tray: the agent stopped")
		return exitError
	}
	return clientErr(err, stderr)
}

// waiter follows the statuses after start, stop or restart and says when
// the outcome is known. It is pure, so its rules have a table test.
type waiter struct {
	cmd    string
	before status.Status // the status when the request was sent
	took   bool          // a status seen shows the request handled
	last   status.Status // the latest status seen after took
}

// newWaiter starts from the status before the request. Some requests change
// nothing visible, so their effect is taken for granted: stop ends at
// stopped whatever the path, and start leaves a running, starting or
// restarting server alone.
func newWaiter(cmd string, before status.Status) *waiter {
	w := &waiter{cmd: cmd, before: before}
	switch {
	case cmd == "stop":
		w.took = true
	case cmd == "start":
		switch before.State {
		case status.Running, status.Starting, status.Restarting:
			w.took = true
		}
	}
	return w
}

// needsGrace reports whether silence may be the answer (see regateGrace).
func (w *waiter) needsGrace() bool {
	return !w.took && w.before.State == status.NotSpawning
}

// see takes the next status (the first call gets the status before the
// request) and reports whether it follows the request, to be shown.
func (w *waiter) see(st status.Status) bool {
	if !w.took {
		w.took = w.effect(st)
	}
	if w.took {
		w.last = st
	}
	return w.took
}

// effect reports whether st, seen after the request was sent, shows that
// the agent handled it, rather than being a change that came before.
func (w *waiter) effect(st status.Status) bool {
	b := w.before
	switch {
	case b.State == status.NotSpawning:
		// Any change: the agent publishes nothing else between a refusal
		// and the gate's next run.
		return !st.Equal(b)
	case w.cmd == "restart" && b.PID > 0:
		// A new child, or none: the old one was stopped.
		return st.PID != b.PID
	default:
		// Stopped and failed change state on start or restart; a change
		// within the same state (a settings_error) is not the answer.
		return st.State != b.State
	}
}

// finished reports whether st (seen, after the request took effect) is the
// outcome.
func (w *waiter) finished(st status.Status) bool {
	if w.cmd == "stop" {
		return st.State == status.Stopped
	}
	switch st.State {
	case status.Running, status.Stopped, status.FailedAfterMaxRestarts, status.NotSpawning:
		return true
	}
	return false
}

// exitCode is 0 when the outcome is the one asked for.
func (w *waiter) exitCode() int {
	want := status.Running
	if w.cmd == "stop" {
		want = status.Stopped
	}
	if w.last.State == want {
		return exitOK
	}
	return exitError
}
