package supervisor

import (
	"context"
	"errors"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/OpenCircuitDev/ocm-tray/internal/logfile"
)

// The fakes below stand in for the child process, the health endpoint and
// the port check, so the state machine can be driven under testing/synctest:
// fake time makes backoff, timeouts and stability windows exact and instant.
// Real-process behaviour is covered in process_test.go.

type fakeProc struct {
	pid    int
	exited chan struct{}
	ready  chan struct{}

	mu        sync.Mutex
	text      string
	diag      diagnosis // hint and permanent of the exit (exitWith)
	terms     int
	kills     int
	ignoreTrm bool
	healthy   bool // /health answers 200 (else 503)
	hung      bool // /health never answers
	once      sync.Once
}

func (p *fakeProc) Pid() int                { return p.pid }
func (p *fakeProc) Exited() <-chan struct{} { return p.exited }
func (p *fakeProc) Ready() <-chan struct{}  { return p.ready }
func (p *fakeProc) Exit() diagnosis {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.diag
	d.lastError = p.text
	return d
}

// exitWith ends the process with a full diagnosis (a hint, a failure
// retrying cannot fix).
func (p *fakeProc) exitWith(d diagnosis) {
	p.mu.Lock()
	p.diag = d
	p.mu.Unlock()
	p.exit(d.lastError)
}

func (p *fakeProc) Terminate() error {
	p.mu.Lock()
	p.terms++
	ignore := p.ignoreTrm
	p.mu.Unlock()
	if !ignore {
		p.exit("killed by SIGABRT")
	}
	return nil
}

func (p *fakeProc) Kill() error {
	p.mu.Lock()
	p.kills++
	p.mu.Unlock()
	p.exit("killed by SIGKILL")
	return nil
}

func (p *fakeProc) exit(text string) {
	p.once.Do(func() {
		p.mu.Lock()
		p.text = text
		p.mu.Unlock()
		close(p.exited)
	})
}

func (p *fakeProc) setHealthy(ok bool) {
	p.mu.Lock()
	p.healthy = ok
	p.mu.Unlock()
}

func (p *fakeProc) setHung(h bool) {
	p.mu.Lock()
	p.hung = h
	p.mu.Unlock()
}

// world is the fake outside: it spawns fakeProcs and answers probes for the
// newest one.
type world struct {
	mu       sync.Mutex
	procs    []*fakeProc
	nextPID  int
	portBusy bool
	spawnErr error
	// onSpawn configures each new child (e.g. healthy at once, ignore SIGTERM).
	onSpawn func(*fakeProc)
	probes  int
	// onPortCheck runs inside every port check, e.g. to model a SIGTERM
	// arriving while the check is out.
	onPortCheck func()
	// shutDown, when set, reports whether shutdown has begun. A spawn whose
	// port check (the last step before the supervisor's own look at the
	// shutdown) already saw it is counted in lateSpawns: the supervisor had
	// every chance to know. (A cancel landing between its look and the
	// spawn cannot be ruled out by any check; shutdown then stops that
	// child at once.)
	shutDown    func() bool
	sawShutdown bool
	lateSpawns  int
	// httpDo answers the server's API beyond /health (router.go), if set.
	httpDo func(ctx context.Context, method, url string, body []byte) (int, []byte, error)
	// The live view: what the server answers to the reads beside /health,
	// and the queries made.
	live    liveAnswer
	queries []liveQuery
}

func newWorld() *world { return &world{nextPID: 1000} }

func (w *world) spawn(*Command, *logfile.File) (proc, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.spawnErr != nil {
		return nil, w.spawnErr
	}
	if w.sawShutdown {
		w.lateSpawns++
	}
	w.nextPID++
	p := &fakeProc{pid: w.nextPID, exited: make(chan struct{}), ready: make(chan struct{}, 1)}
	if w.onSpawn != nil {
		w.onSpawn(p)
	}
	w.procs = append(w.procs, p)
	return p, nil
}

func (w *world) current() *fakeProc {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.procs) == 0 {
		return nil
	}
	return w.procs[len(w.procs)-1]
}

func (w *world) spawned() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.procs)
}

func (w *world) probe(ctx context.Context, _ string, q liveQuery) (liveAnswer, error) {
	err := w.health(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil || !q.active() {
		return liveAnswer{}, err
	}
	w.queries = append(w.queries, q)
	a := w.live
	if !q.slots {
		a.slots, a.slotsTotal, a.slotsBusy = notRead, 0, 0
	}
	if !q.metrics {
		a.metrics, a.tps = notRead, 0
	}
	return a, nil
}

func (w *world) setLive(a liveAnswer) {
	w.mu.Lock()
	w.live = a
	w.mu.Unlock()
}

func (w *world) takeQueries() []liveQuery {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queries
	w.queries = nil
	return q
}

func (w *world) health(ctx context.Context) error {
	w.mu.Lock()
	w.probes++
	p := w.procs[len(w.procs)-1]
	w.mu.Unlock()
	p.mu.Lock()
	healthy, hung := p.healthy, p.hung
	p.mu.Unlock()
	select {
	case <-p.exited:
		return errors.New("connection refused")
	default:
	}
	if hung {
		<-ctx.Done()
		return errors.New("health check timed out")
	}
	if healthy {
		return nil
	}
	return errLoading
}

func (w *world) portInUse(context.Context, string, int) bool {
	w.mu.Lock()
	busy, hook := w.portBusy, w.onPortCheck
	w.mu.Unlock()
	if hook != nil {
		hook()
	}
	w.mu.Lock()
	w.sawShutdown = w.shutDown != nil && w.shutDown()
	w.mu.Unlock()
	return busy
}

func (w *world) setPortBusy(b bool) {
	w.mu.Lock()
	w.portBusy = b
	w.mu.Unlock()
}

func testConfig() Config {
	p := DefaultPolicy()
	return Config{
		Command:   &Command{Path: "/usr/bin/llama-server", Args: []string{"-m", "/m/x.gguf"}},
		ProbeHost: "127.0.0.1",
		Port:      8080,
		Policy:    p,
		Model:     "x",
	}
}

// harness runs a Supervisor against a world inside a synctest bubble and
// records every published event, checking each transition is legal.
type harness struct {
	t      *testing.T
	w      *world
	sup    *Supervisor
	ctx    context.Context // Run's
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	events []status.Event
	subEnd chan struct{}
}

func startHarness(t *testing.T, w *world, cfg Config) *harness {
	t.Helper()
	sup := New(cfg)
	sup.spawn, sup.probe, sup.portInUse = w.spawn, w.probe, w.portInUse
	if w.httpDo != nil {
		sup.httpDo = w.httpDo
	}
	ctx, cancel := context.WithCancel(t.Context())
	h := &harness{t: t, w: w, sup: sup, ctx: ctx, cancel: cancel, done: make(chan struct{}), subEnd: make(chan struct{})}
	sub := sup.Subscribe(1024)
	<-sub.C // the initial snapshot, before Run: not a transition
	go func() {
		defer close(h.subEnd)
		var prev status.State
		for ev := range sub.C {
			if !status.LegalTransition(prev, ev.Status.State) && prev != ev.Status.State {
				t.Errorf("illegal transition %s -> %s", prev, ev.Status.State)
			}
			prev = ev.Status.State
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
		}
		if err := sub.Err(); err != nil {
			t.Errorf("subscription ended: %v", err)
		}
	}()
	go func() {
		defer close(h.done)
		sup.Run(ctx)
	}()
	t.Cleanup(h.stop) // also on t.Fatal: no goroutine may outlive the bubble
	synctest.Wait()
	return h
}

// stop cancels Run and waits for it and the recorder to finish. Children that
// ignore SIGTERM are killed after stop_timeout, which fake time makes instant.
func (h *harness) stop() {
	h.cancel()
	<-h.done
	<-h.subEnd
}

func (h *harness) states() []status.State {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []status.State
	for _, e := range h.events {
		out = append(out, e.Status.State)
	}
	return out
}

func (h *harness) last() status.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) == 0 {
		return status.Status{}
	}
	return h.events[len(h.events)-1].Status
}

func (h *harness) eventsCopy() []status.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]status.Event(nil), h.events...)
}

func (h *harness) wantState(want status.State) status.Status {
	h.t.Helper()
	synctest.Wait()
	got := h.sup.Hub().Status()
	if got.State != want {
		h.t.Fatalf("state = %s (%+v), want %s; history %v", got.State, got, want, h.states())
	}
	return got
}

// run wraps synctest.Test for brevity.
func run(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	synctest.Test(t, f)
}
