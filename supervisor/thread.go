package supervisor

import "runtime"

// spawnThread runs every spawn on one OS thread that lives until Run has
// reaped its last child. The child's parent-death signal (Linux) fires when
// the thread that forked it exits, not the process: forking from whatever
// thread the Run goroutine happens to be on would let the Go runtime retire
// that thread and kill a healthy server. Pinning only this goroutine, which
// sleeps between spawns, leaves the Run goroutine free to move between
// threads, so its wake-ups (every probe) cost no hand-off to a dedicated
// thread.
type spawnThread struct {
	work chan func()
	done chan struct{}
}

func startSpawnThread() *spawnThread {
	t := &spawnThread{work: make(chan func()), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		runtime.LockOSThread()
		// Unlocked again only after every child was reaped (stop is called
		// then), so the thread may go back to the runtime's pool safely.
		defer runtime.UnlockOSThread()
		for f := range t.work {
			f()
		}
	}()
	return t
}

// do runs f on the thread and waits for it.
func (t *spawnThread) do(f func()) {
	ran := make(chan struct{})
	t.work <- func() {
		defer close(ran)
		f()
	}
	<-ran
}

// stop ends the thread's goroutine. Call it once, after the last child was
// reaped.
func (t *spawnThread) stop() {
	close(t.work)
	<-t.done
}
