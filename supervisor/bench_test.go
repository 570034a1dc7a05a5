package supervisor

import (
	"context"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Micro-benchmarks of the hot paths (go test -run '^$' -bench . -benchmem
// ./supervisor). The end-to-end figures against real processes and other
// supervisors are in bench/ and docs/BENCHMARKS.md.

// BenchmarkProbe is one liveness probe: GET /health on a keep-alive
// loopback connection, 200 {"status":"ok"}.
func BenchmarkProbe(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	p := newHTTPProber()
	url := srv.URL + "/health"
	ctx := context.Background()
	if err := p.probe(ctx, url); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.probe(ctx, url); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProbeLoading is a probe answered 503 "Loading model", the
// answer polled for while starting.
func BenchmarkProbeLoading(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`)
	}))
	defer srv.Close()
	p := newHTTPProber()
	url := srv.URL + "/health"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.probe(ctx, url); err != errLoading {
			b.Fatal(err)
		}
	}
}

// benchPublish publishes to a hub with n subscribers. Their queues are
// drained (untimed) every 128 publications, so none is ever cut off as slow
// and every publication really reaches n queues.
func benchPublish(b *testing.B, n int) {
	h := status.NewHub(status.Status{State: status.Starting, PID: 1})
	subs := make([]*status.Subscription, n)
	for i := range subs {
		subs[i] = h.Subscribe(256)
		<-subs[i].C // the initial snapshot
	}
	_, release := h.Changes()
	defer release()
	sts := [2]status.Status{{State: status.Running, PID: 1, Model: "m"}, {State: status.Restarting, Attempt: 1, MaxRestarts: 3, LastError: "killed by SIGKILL", Model: "m"}}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Publish(sts[i&1], now)
		i++
		if i%128 == 0 {
			b.StopTimer()
			for _, s := range subs {
				for range 128 {
					if _, ok := <-s.C; !ok {
						b.Fatal("subscriber cut off")
					}
				}
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	h.Close()
}

// BenchmarkPublish is one status publication to the tray's coalescing poke
// and three ordered subscribers (a watch, the notifier, one more).
func BenchmarkPublish(b *testing.B) { benchPublish(b, 3) }

// BenchmarkPublishNoSubscribers is the publication alone.
func BenchmarkPublishNoSubscribers(b *testing.B) { benchPublish(b, 0) }

// BenchmarkTransition is one state transition as the Run goroutine makes
// it: runner.publish (annotate, compare, check legality, log, hand to the
// hub) alternating running <-> restarting, with the agent's text logger
// writing to io.Discard and one subscriber.
func BenchmarkTransition(b *testing.B) {
	cfg := testConfig()
	s := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	sub := s.Subscribe(1024)
	go func() {
		for range sub.C {
		}
	}()
	r := &runner{s: s, ctx: context.Background(), cfg: cfg, st: s.hub.Status()}
	r.publish(status.Status{State: status.Starting, PID: 1234})
	sts := [2]status.Status{{State: status.Running, PID: 1234}, {State: status.Restarting, Attempt: 1, LastError: "killed by SIGKILL"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.publish(sts[i&1])
		i++
	}
	b.StopTimer()
	s.hub.Close()
}

// BenchmarkCrashToRestarting is the whole in-process path from a child's
// exit to the restarting status being published: the Run loop wakes on
// Exited, fail() publishes restarting and arms the backoff; the fake world
// respawns at once (zero backoff) and the next loop waits, untimed, for
// running again.
// It measures supervisor work per crash (fakes for process and probes).
func BenchmarkCrashToRestarting(b *testing.B) {
	w := newWorld()
	w.onSpawn = func(p *fakeProc) { p.healthy = true; p.ready <- struct{}{} }
	cfg := testConfig()
	cfg.Policy.MaxRestarts = 100
	cfg.Policy.InitialBackoff = 0  // Backoff() = 0: respawn at once
	cfg.Policy.StabilityWindow = 0 // every crash starts the count afresh
	sup := New(cfg)
	sup.spawn, sup.probe, sup.portInUse = w.spawn, w.probe, w.portInUse
	sub := sup.Subscribe(1 << 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	waitFor := func(st status.State) {
		for ev := range sub.C {
			if ev.Status.State == st {
				return
			}
		}
		b.Fatalf("subscription ended before %s", st)
	}
	waitFor(status.Running)
	b.ReportAllocs()
	for b.Loop() {
		w.current().exit("killed by SIGKILL")
		waitFor(status.Restarting)
		b.StopTimer()
		waitFor(status.Running)
		b.StartTimer()
	}
	b.StopTimer()
	cancel()
	<-done
}
