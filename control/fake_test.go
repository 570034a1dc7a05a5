package control

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// fakeAgent is a real status hub with recorded verbs: the test publishes
// what a supervisor would.
type fakeAgent struct {
	hub   *status.Hub
	calls chan string // Start/Stop/Restart, in order
}

func newFakeAgent(st status.Status) *fakeAgent {
	return &fakeAgent{hub: status.NewHub(st), calls: make(chan string, 16)}
}

func (a *fakeAgent) source() Source { return Source{Hub: a.hub, Controls: a} }

func (a *fakeAgent) Start()   { a.calls <- "start" }
func (a *fakeAgent) Stop()    { a.calls <- "stop" }
func (a *fakeAgent) Restart() { a.calls <- "restart" }

// publish makes st current (Since = at), as the supervisor does.
func (a *fakeAgent) publish(st status.Status, at time.Time) {
	st.Since = at
	a.hub.Publish(st, at)
}

// finish publishes stopped and ends every subscription, as Run does on its
// way out.
func (a *fakeAgent) finish(at time.Time) {
	a.publish(status.Status{State: status.Stopped}, at)
	a.hub.Close()
}

func (a *fakeAgent) counts() (subs, cut int) { return a.hub.Subscribers() }

type testServer struct {
	*Server
	path     string
	quits    chan struct{} // one token per quit call
	serveErr chan error
}

// startServer listens in a fresh directory and serves until the test ends.
// adjust, if not nil, runs before Serve.
func startServer(t *testing.T, src Source, adjust func(*Server)) *testServer {
	t.Helper()
	path := filepath.Join(testenv.ShortTempDir(t), "ocm-tray.sock")
	ts := &testServer{path: path, quits: make(chan struct{}, 8), serveErr: make(chan error, 1)}
	srv, err := Listen(path, src, func() { ts.quits <- struct{}{} }, nil)
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
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	t.Cleanup(cancel)
	return ctx
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
