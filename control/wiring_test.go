package control

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

// The wiring main uses, with the real supervisor: "quit" cancels the
// agent's context, Run stops and returns, Close answers the quit. The
// watcher sees the final stopped line and ends cleanly; quit returns only
// after Run returned.
func TestQuitWithRealSupervisor(t *testing.T) {
	testenv.NoLeaks(t)
	path := filepath.Join(testenv.ShortTempDir(t), "ocm-tray.sock")
	const refusal = "model file m.gguf not found"
	sup := supervisor.New(supervisor.Config{Refusal: refusal, Model: "m"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := Listen(path, Source{Hub: sup.Hub(), Controls: sup}, cancel, nil)
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ctx) }()
	runReturned := make(chan struct{})
	agentDone := make(chan error, 1)
	go func() {
		sup.Run(ctx)
		close(runReturned)
		agentDone <- errors.Join(srv.Close(), <-serveErr)
	}()

	var states []status.State
	watchErr := make(chan error, 1)
	watching := make(chan struct{})
	wc := dialT(t, path)
	go func() {
		watchErr <- wc.Watch(context.Background(), func(_ []byte, ev status.Event) error {
			states = append(states, ev.Status.State)
			if ev.Status.State == status.NotSpawning && ev.Status.Reason == refusal {
				close(watching) // Run is supervising
			}
			return nil
		})
	}()
	<-watching

	if err := dialT(t, path).Do(ctxT(t), "quit"); err != nil {
		t.Fatalf("quit: %v", err)
	}
	select {
	case <-runReturned:
	default:
		t.Fatal("quit returned before the supervisor's Run did")
	}
	if err := <-watchErr; err != nil {
		t.Fatalf("Watch: %v (states %v)", err, states)
	}
	if len(states) == 0 || states[len(states)-1] != status.Stopped {
		t.Fatalf("watch states %v, want the last to be stopped", states)
	}
	if err := <-agentDone; err != nil {
		t.Fatalf("agent: %v", err)
	}
}
