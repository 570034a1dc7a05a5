package control

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

// fakeAgent mirrors the supervisor's hub: a bounded queue per feed, a feed
// that falls behind is cut off with ErrSlowSubscriber, finish ends them all.
type fakeAgent struct {
	mu       sync.Mutex
	cur      supervisor.Status
	feeds    map[*fakeFeed]struct{}
	finished bool
	cut      int // feeds cut off for being slow

	calls chan string // Start/Stop/Restart, in order
}

type fakeFeed struct {
	a   *fakeAgent
	ch  chan supervisor.Event
	err error // guarded by a.mu
}

func newFakeAgent(st supervisor.Status) *fakeAgent {
	return &fakeAgent{cur: st, feeds: map[*fakeFeed]struct{}{}, calls: make(chan string, 16)}
}

func (a *fakeAgent) Status() supervisor.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

func (a *fakeAgent) Start()   { a.calls <- "start" }
func (a *fakeAgent) Stop()    { a.calls <- "stop" }
func (a *fakeAgent) Restart() { a.calls <- "restart" }

func (a *fakeAgent) Subscribe(buffer int) Feed {
	f := &fakeFeed{a: a, ch: make(chan supervisor.Event, max(buffer, 1)+1)}
	a.mu.Lock()
	defer a.mu.Unlock()
	f.ch <- supervisor.Event{At: a.cur.Since, Status: a.cur}
	if a.finished {
		close(f.ch)
		return f
	}
	a.feeds[f] = struct{}{}
	return f
}

// publish makes st current (Since = at) and hands it to every feed without
// blocking.
func (a *fakeAgent) publish(st supervisor.Status, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st.Since = at
	a.cur = st
	for f := range a.feeds {
		select {
		case f.ch <- supervisor.Event{At: at, Status: st}:
		default:
			a.cut++
			a.removeLocked(f, supervisor.ErrSlowSubscriber)
		}
	}
}

// finish publishes stopped and ends every feed, as Run does on its way out.
func (a *fakeAgent) finish(at time.Time) {
	a.publish(supervisor.Status{State: supervisor.Stopped}, at)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finished = true
	for f := range a.feeds {
		a.removeLocked(f, nil)
	}
}

func (a *fakeAgent) removeLocked(f *fakeFeed, err error) {
	if _, ok := a.feeds[f]; !ok {
		return
	}
	delete(a.feeds, f)
	f.err = err
	close(f.ch)
}

func (a *fakeAgent) counts() (feeds, cut int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.feeds), a.cut
}

func (f *fakeFeed) Events() <-chan supervisor.Event { return f.ch }

func (f *fakeFeed) Err() error {
	f.a.mu.Lock()
	defer f.a.mu.Unlock()
	return f.err
}

func (f *fakeFeed) Close() {
	f.a.mu.Lock()
	defer f.a.mu.Unlock()
	f.a.removeLocked(f, nil)
}

// socketDir returns a short directory: t.TempDir() paths can exceed the
// ~108 bytes of sun_path.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ocm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// noLeaks fails the test if goroutines started during it outlive it. Call
// it first, so its cleanup runs last.
func noLeaks(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		eventually(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= base })
	})
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("timed out waiting for: %s\n%s", what, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

type testServer struct {
	*Server
	path     string
	quits    chan struct{} // one token per quit call
	serveErr chan error
}

// startServer listens in a fresh directory and serves until the test ends.
// adjust, if not nil, runs before Serve.
func startServer(t *testing.T, agent Agent, adjust func(*Server)) *testServer {
	t.Helper()
	path := filepath.Join(socketDir(t), "ocm-tray.sock")
	ts := &testServer{path: path, quits: make(chan struct{}, 8), serveErr: make(chan error, 1)}
	srv, err := Listen(path, agent, func() { ts.quits <- struct{}{} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = srv
	if adjust != nil {
		adjust(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { ts.serveErr <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-ts.serveErr; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

func dialT(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
