package main

import (
	"context"
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// whileOutputRead returns a context that also ends when w is a pipe or a
// socket whose reader went away: `ocm-tray status --watch | head -n 1`
// must end when head does. A watch writes only when the status changes,
// which may be hours away, and until that write nothing else would notice;
// the pipeline would hang, and the agent keep a watcher for nobody. The
// kernel flags the write end of a pipe without readers (POLLERR) and a
// socket whose peer hung up (POLLHUP); poll waits for that, or for stop.
func whileOutputRead(ctx context.Context, w io.Writer) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	f, ok := w.(*os.File)
	if !ok {
		return ctx, cancel
	}
	wakeR, wakeW, err := os.Pipe()
	if err != nil {
		return ctx, cancel
	}
	out := int32(f.Fd())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fds := []unix.PollFd{{Fd: out}, {Fd: int32(wakeR.Fd()), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err == nil && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
				cancel()
			}
			return // gone, woken by stop, or poll failed: nothing more to watch
		}
	}()
	return ctx, func() {
		cancel()
		wakeW.Close() // wakes the poll
		<-done
		wakeR.Close()
	}
}
