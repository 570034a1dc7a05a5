//go:build linux

package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// TestSoakChaos runs a real Supervisor over the fake llama-server for a while
// and throws a seeded random sequence of trouble at it: children killed by
// signals or frozen, configs whose child crashes, hangs, goes unhealthy,
// ignores SIGTERM, floods stderr or cannot load its model, Stop/Start/Restart,
// settings edits that must or must not restart the child, refusals, and a
// foreign program grabbing the port. Throughout, it checks what must always
// hold: every published change is a legal transition, at most one child is
// alive at any instant, no child stays a zombie, and after the final cancel
// nothing is left behind (no child, no goroutine, no file descriptor).
//
// OCM_SOAK_DURATION sets how long it runs (default 20s); OCM_SOAK_SEED
// repeats an action sequence (timing still varies). Skipped with -short.
func TestSoakChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos soak: skipped with -short")
	}
	dur := 20 * time.Second
	if v := os.Getenv("OCM_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("OCM_SOAK_DURATION=%q: want a duration such as 20s", v)
		}
		dur = d
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("OCM_SOAK_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("OCM_SOAK_SEED=%q: want a whole number", v)
		}
		seed = s
	}
	t.Logf("seed %d (OCM_SOAK_SEED=%d repeats the action sequence), duration %v", seed, seed, dur)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	testenv.NoLeaks(t) // checked last, after finish below
	baseFDs := openFDs(t)

	w := newSoakWorld(t, rng)
	cfg := w.config(knobsHealthy)
	sup := New(cfg)
	sub := sup.Subscribe(1 << 16)
	pokes, release := sup.Hub().Changes()

	// Every published change, checked as it arrives.
	rec := &soakRecorder{annotationOnly: &w.annotationOnly}
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		for ev := range sub.C {
			rec.add(ev.Status)
		}
	}()

	// At most one child at any instant; no lingering zombies.
	sampler := newChildSampler(w.marker)
	samplerStop := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		sampler.loop(samplerStop)
	}()

	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { sup.Run(ctx); runDone <- nil }()
	finished := false
	finish := func() {
		if finished {
			return
		}
		finished = true
		cancel()
		select {
		case err := <-runDone:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(testenv.WaitLimit):
			t.Errorf("Run did not return within %v of the cancel", testenv.WaitLimit)
		}
		close(samplerStop)
		<-samplerDone
		release()
	}
	t.Cleanup(finish)

	// Sanity first: the setup does reach running, so the chaos below acts
	// on real, healthy children and not on a misconfigured one.
	if !waitStatus(pokes, sup, testenv.WaitLimit, func(st status.Status) bool { return st.State == status.Running }) {
		t.Fatalf("never reached running: %+v", sup.Hub().Status())
	}

	start := time.Now()
	deadline := start.Add(dur)
	cycles := 0
	for time.Now().Before(deadline) && !t.Failed() {
		cycles++
		w.chaos(sup, pokes)
		// A random pause between actions: part of the workload.
		time.Sleep(time.Duration(rng.IntN(80)) * time.Millisecond)
		requireNoLingeringZombies(t)
		if err := rec.err(); err != nil {
			t.Fatalf("after %d cycles: %v", cycles, err)
		}
		if err := sampler.err(); err != nil {
			t.Fatalf("after %d cycles: %v", cycles, err)
		}
	}
	elapsed := time.Since(start)

	finish()
	<-recDone
	if err := sub.Err(); err != nil {
		t.Fatalf("the subscription ended with %v", err)
	}
	if err := rec.err(); err != nil {
		t.Fatal(err)
	}
	if err := sampler.err(); err != nil {
		t.Fatal(err)
	}
	if last := rec.last(); last.State != status.Stopped {
		t.Fatalf("final status %+v, want stopped", last)
	}
	if kids := ourChildren(); len(kids) != 0 {
		t.Fatalf("children left after Run returned: %v", kids)
	}
	if !testenv.Poll(testenv.WaitLimit, func() bool { return openFDs(t) <= baseFDs }) {
		t.Fatalf("open file descriptors: %d after the soak, %d before\n%s", openFDs(t), baseFDs, fdList())
	}

	st := rec.stats()
	t.Logf("%d cycles in %v (seed %d): %d status changes, %d children spawned, running %d times, "+
		"%d restarting, %d failed_after_max_restarts, %d not_spawning; actions %v; "+
		"%d process-table samples, at most %d child alive at once",
		cycles, elapsed.Round(time.Millisecond), seed, st.events, st.spawns, st.counts[status.Running],
		st.counts[status.Restarting], st.counts[status.FailedAfterMaxRestarts], st.counts[status.NotSpawning], w.actionSummary(),
		sampler.samples.Load(), sampler.maxAlive.Load())
	// A check of the set-up, not of speed: once the chaos began, a child
	// came up again at least once (how often depends on the machine's
	// load and the seed, and is only logged above).
	if dur >= 10*time.Second && st.counts[status.Running] < 2 {
		t.Fatalf("running only %d times: no child came up again during the chaos", st.counts[status.Running])
	}
}

// --- the workload ---

// soakKnobs names the behaviour a config gives its child.
type soakKnobs int

const (
	knobsHealthy soakKnobs = iota
	knobsCrash
	knobsHang
	knobsUnhealthy
	knobsIgnoreSIGTERM
	knobsCleanExit
	knobsStderrFlood
	knobsSlowLoad
	knobsBadModel
	knobsBadArgument
	numKnobs
)

var knobNames = [...]string{"healthy", "crash", "hang", "unhealthy", "ignore-sigterm", "clean-exit", "stderr-flood", "slow-load", "bad-model", "bad-argument"}

type soakWorld struct {
	rng    *rand.Rand
	base   Config // realConfig: the fake on a free port, fast policy
	bad    string // a model file that fails to load
	marker string // "-a soak-<our pid>": how the sampler knows our children

	cur     Config // the config last posted
	edits   int
	refuse  atomic.Bool // the Recheck gate refuses ("model file vanished")
	actions map[string]int

	annotationOnly sync.Map // SettingsError tag -> true: an edit that must not restart
}

func newSoakWorld(t *testing.T, rng *rand.Rand) *soakWorld {
	w := &soakWorld{rng: rng, base: realConfig(t), marker: "soak-" + strconv.Itoa(os.Getpid()), actions: map[string]int{}}
	w.bad = filepath.Join(t.TempDir(), "bad.gguf")
	if err := os.WriteFile(w.bad, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *soakWorld) ms(lo, hi int) string {
	return strconv.Itoa(lo+w.rng.IntN(hi-lo+1)) + "ms"
}

// config builds a config whose child behaves as k. Each call varies the
// argv a little (-t) and the health interval (20-50ms), so two configs
// differ and applying one restarts the child.
func (w *soakWorld) config(k soakKnobs) Config {
	c := w.base
	args := slices.Clone(w.base.Command.Args)
	args = append(args, "-a", w.marker, "-t", strconv.Itoa(1+w.rng.IntN(8)))
	env := slices.Concat(w.base.Command.Env, []string{"FAKE_LLAMA_LOAD=" + w.ms(5, 80)})
	switch k {
	case knobsCrash:
		env = append(env, "FAKE_LLAMA_CRASH_AFTER="+w.ms(20, 300), "FAKE_LLAMA_CRASH_MODE="+[]string{"exit1", "abort", "segv"}[w.rng.IntN(3)])
	case knobsHang:
		env = append(env, "FAKE_LLAMA_HANG_AFTER="+w.ms(20, 300))
	case knobsUnhealthy:
		env = append(env, "FAKE_LLAMA_UNHEALTHY_AFTER="+w.ms(20, 300), "FAKE_LLAMA_UNHEALTHY_STATUS="+[]string{"500", "503", "404"}[w.rng.IntN(3)])
	case knobsIgnoreSIGTERM:
		env = append(env, "FAKE_LLAMA_IGNORE_SIGTERM=1")
	case knobsCleanExit:
		env = append(env, "FAKE_LLAMA_CLEAN_EXIT=1")
	case knobsStderrFlood:
		env = append(env, "FAKE_LLAMA_STDERR_FLOOD="+strconv.Itoa(500+w.rng.IntN(3000)))
	case knobsSlowLoad:
		env = append(env, "FAKE_LLAMA_LOAD="+w.ms(300, 1000)) // the later one wins
	case knobsBadModel:
		args[slices.Index(args, "-m")+1] = w.bad
	case knobsBadArgument:
		args = append(args, "--bogus")
	}
	c.Command = &Command{Path: w.base.Command.Path, Args: args, Env: env}
	c.Policy.MaxRestarts = 3
	c.Policy.InitialBackoff, c.Policy.MaxBackoff = 5*time.Millisecond, 50*time.Millisecond
	c.Policy.StabilityWindow = 300 * time.Millisecond
	c.Policy.HealthCheckInterval = time.Duration(20+w.rng.IntN(31)) * time.Millisecond
	c.Policy.HealthCheckTimeout = 250 * time.Millisecond
	c.Policy.StartupTimeout = 3 * time.Second
	c.Policy.StopTimeout = time.Duration(50+w.rng.IntN(150)) * time.Millisecond
	c.Recheck = func() string {
		if w.refuse.Load() {
			return "model file vanished"
		}
		return ""
	}
	w.cur = c
	return c
}

func (w *soakWorld) did(action string) { w.actions[action]++ }

func (w *soakWorld) actionSummary() string {
	keys := make([]string, 0, len(w.actions))
	for k := range w.actions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%d", k, w.actions[k])
	}
	return b.String()
}

// chaos does one random thing to the supervisor or its child.
func (w *soakWorld) chaos(sup *Supervisor, pokes <-chan struct{}) {
	switch n := w.rng.IntN(100); {
	case n < 20: // the child dies, by a signal from outside
		sigs := []syscall.Signal{syscall.SIGKILL, syscall.SIGSEGV, syscall.SIGTERM, syscall.SIGABRT, syscall.SIGINT}
		sig := sigs[w.rng.IntN(len(sigs))]
		if w.signalChild(sig) {
			w.did("kill-" + signalName(sig))
		} else {
			w.did("kill-no-child")
		}
	case n < 24: // the child freezes (SIGSTOP), perhaps thaws again
		if w.signalChild(syscall.SIGSTOP) {
			w.did("freeze")
			if w.rng.IntN(2) == 0 {
				time.Sleep(time.Duration(w.rng.IntN(150)) * time.Millisecond)
				w.signalChild(syscall.SIGCONT)
			}
		}
	case n < 30:
		w.did("stop")
		sup.Stop()
	case n < 38:
		w.did("start")
		sup.Start()
	case n < 45:
		w.did("restart")
		sup.Restart()
	case n < 52: // an edit to what the child runs with: restarts it
		w.did("apply-args")
		sup.Apply(w.config(knobsHealthy))
	case n < 63: // an edit that makes the child misbehave
		k := soakKnobs(1 + w.rng.IntN(int(numKnobs)-1))
		w.did("apply-" + knobNames[k])
		sup.Apply(w.config(k))
	case n < 71: // only the annotations change: must not restart
		w.edits++
		c := w.cur
		c.SettingsError = fmt.Sprintf("line %d: invalid value (edit %d)", 1+w.rng.IntN(40), w.edits)
		if w.rng.IntN(2) == 0 {
			c.Warning = fmt.Sprintf("warning %d", w.edits)
		}
		w.annotationOnly.Store(c.SettingsError, true)
		w.cur = c
		w.did("apply-annotation")
		sup.Apply(c)
	case n < 74: // the spawn-gate refuses
		c := w.cur
		c.Command, c.Refusal = nil, "model file not found: /nowhere/m.gguf"
		w.cur = c
		w.did("apply-refusal")
		sup.Apply(c)
	case n < 77: // the model vanishes for a while: a respawn meanwhile is refused
		w.did("recheck-refuses")
		w.refuse.Store(true)
		time.Sleep(time.Duration(w.rng.IntN(200)) * time.Millisecond)
		w.refuse.Store(false)
	case n < 80: // another program holds the port for a while
		if w.holdPort(time.Duration(50+w.rng.IntN(350)) * time.Millisecond) {
			w.did("foreign-port")
		} else {
			w.did("foreign-port-busy")
		}
	default: // let things settle, as a user would between clicks
		w.did("settle")
		waitStatus(pokes, sup, 1500*time.Millisecond, func(st status.Status) bool {
			return st.State == status.Running || st.State == status.FailedAfterMaxRestarts || st.State == status.Stopped || st.State == status.NotSpawning
		})
	}
}

// signalChild sends sig to our live child, if there is one.
func (w *soakWorld) signalChild(sig syscall.Signal) bool {
	kids := liveMarkedChildren(w.marker)
	if len(kids) == 0 {
		return false
	}
	return syscall.Kill(kids[0].pid, sig) == nil
}

// holdPort makes a foreign program listen on the child's port for d (only
// possible while no child holds it); it reports whether it could.
func (w *soakWorld) holdPort(d time.Duration) bool {
	srv, err := testenv.Listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(w.base.Port)), testenv.HangUp)
	if err != nil {
		return false // the child has it
	}
	time.Sleep(d) // how long the foreign program stays: part of the workload
	srv.Close()
	return true
}

// waitStatus waits, on change notifications, until ok(status) or d passes.
func waitStatus(pokes <-chan struct{}, sup *Supervisor, d time.Duration, ok func(status.Status) bool) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		if ok(sup.Hub().Status()) {
			return true
		}
		select {
		case <-pokes:
		case <-timer.C:
			return ok(sup.Hub().Status())
		}
	}
}

// --- checking the published statuses ---

type soakRecorder struct {
	annotationOnly *sync.Map

	mu      sync.Mutex
	prev    status.Status
	n       int
	failure error
	counts  map[status.State]int
	pids    map[int]bool
}

type soakStats struct {
	events, spawns int
	counts         map[status.State]int
}

func (r *soakRecorder) add(cur status.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts, r.pids = map[status.State]int{}, map[int]bool{}
	}
	prev := r.prev
	r.prev = cur
	r.n++
	if cur.State != prev.State {
		r.counts[cur.State]++
	}
	if cur.PID > 0 {
		r.pids[cur.PID] = true
	}
	if r.failure != nil {
		return
	}
	if err := checkStep(prev, cur, r.annotationOnly); err != nil {
		r.failure = fmt.Errorf("event %d: %w\n  from %+v\n  to   %+v", r.n, err, prev, cur)
	}
}

// checkStep checks one published change against docs/status.md.
func checkStep(prev, cur status.Status, annotationOnly *sync.Map) error {
	if cur.State != prev.State || prev.State == "" {
		if !status.LegalTransition(prev.State, cur.State) {
			return fmt.Errorf("illegal transition %q -> %q", prev.State, cur.State)
		}
	} else {
		switch cur.State {
		case status.Running, status.Restarting, status.FailedAfterMaxRestarts:
			// Only annotations may change within these states: a new child,
			// attempt or error needs a transition.
			if cur.PID != prev.PID || cur.Attempt != prev.Attempt || cur.Attempts != prev.Attempts || cur.LastError != prev.LastError {
				return fmt.Errorf("%s changed without a transition", cur.State)
			}
		}
	}
	if hasChild := cur.State == status.Starting || cur.State == status.Running; hasChild != (cur.PID > 0) {
		return fmt.Errorf("pid %d in state %s", cur.PID, cur.State)
	}
	switch cur.State {
	case status.Restarting:
		if cur.Attempt < 1 || cur.Attempt > cur.MaxRestarts || cur.LastError == "" {
			return fmt.Errorf("restarting attempt %d/%d, last_error %q", cur.Attempt, cur.MaxRestarts, cur.LastError)
		}
	case status.FailedAfterMaxRestarts:
		if cur.LastError == "" {
			return fmt.Errorf("failed without last_error")
		}
	case status.NotSpawning:
		if cur.Reason == "" {
			return fmt.Errorf("not_spawning without a reason")
		}
	}
	// An edit of the annotations only is published in place: same state,
	// same child (a gate refusal excepted: any edit re-runs the gate).
	if cur.SettingsError != prev.SettingsError && prev.State != "" {
		if _, ok := annotationOnly.Load(cur.SettingsError); ok && !(prev.State == status.NotSpawning && !prev.PortConflict()) {
			if cur.State != prev.State || cur.PID != prev.PID {
				return fmt.Errorf("an annotation-only edit (%q) restarted the child", cur.SettingsError)
			}
		}
	}
	return nil
}

func (r *soakRecorder) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failure
}

func (r *soakRecorder) last() status.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.prev
}

func (r *soakRecorder) stats() soakStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return soakStats{events: r.n, spawns: len(r.pids), counts: maps.Clone(r.counts)}
}

// --- watching the process table ---

// procInfo is one child of the test process, as /proc shows it.
type procInfo struct {
	pid   int
	state byte   // R, S, Z, T...
	start uint64 // start time in clock ticks: with pid, names one process
	alias string // its -a flag, which carries the soak marker
}

// ourChildren lists the processes whose parent is this test process.
//
// The list of pids is read whole before any process is looked at, so a
// child counted alive was alive when the listing ended: two children
// counted in one scan really were alive at the same instant. (The
// supervisor reaps a child before it forks the next, so even a child seen
// between fork and exec would have to coexist with the other.)
func ourChildren() []procInfo {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	self := os.Getpid()
	var out []procInfo
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // gone
		}
		// "pid (comm) state ppid ..." and comm may hold spaces or ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			continue
		}
		f := strings.Fields(string(b[i+2:]))
		if len(f) < 20 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if ppid != self {
			continue
		}
		start, _ := strconv.ParseUint(f[19], 10, 64)
		p := procInfo{pid: pid, state: f[0][0], start: start}
		if cmd, err := os.ReadFile("/proc/" + name + "/cmdline"); err == nil {
			p.alias = aliasOf(cmd) // empty for a zombie: its command line is gone
		}
		out = append(out, p)
	}
	return out
}

// aliasOf returns the value of the -a flag in a NUL-separated command line.
func aliasOf(cmd []byte) string {
	args := strings.Split(string(cmd), "\x00")
	for i, a := range args {
		if a == "-a" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// liveMarkedChildren are our children running as the soak's fake server.
func liveMarkedChildren(marker string) []procInfo {
	var out []procInfo
	for _, p := range ourChildren() {
		if p.state != 'Z' && p.alias == marker {
			out = append(out, p)
		}
	}
	return out
}

// childSampler scans the process table in a tight loop, checking that at
// most one marked child is alive and that no child stays a zombie.
type childSampler struct {
	marker   string
	samples  atomic.Int64
	maxAlive atomic.Int64

	mu      sync.Mutex
	failure error
}

func newChildSampler(marker string) *childSampler { return &childSampler{marker: marker} }

func (s *childSampler) loop(stop <-chan struct{}) {
	type key struct {
		pid   int
		start uint64
	}
	zombieSince := map[key]time.Time{}
	for {
		select {
		case <-stop:
			return
		default:
		}
		kids := ourChildren()
		now := time.Now()
		var alive []int
		seen := map[key]bool{}
		for _, p := range kids {
			if p.state == 'Z' {
				k := key{p.pid, p.start}
				seen[k] = true
				if _, ok := zombieSince[k]; !ok {
					zombieSince[k] = now
				}
				continue
			}
			if p.alias == s.marker {
				alive = append(alive, p.pid)
			}
		}
		for k, since := range zombieSince {
			if !seen[k] {
				delete(zombieSince, k)
			} else if now.Sub(since) > zombieLimit {
				s.fail(fmt.Errorf("child %d has been a zombie for %v", k.pid, now.Sub(since).Round(time.Millisecond)))
			}
		}
		s.samples.Add(1)
		if n := int64(len(alive)); n > s.maxAlive.Load() {
			s.maxAlive.Store(n)
		}
		if len(alive) > 1 {
			s.fail(fmt.Errorf("%d children alive at once: %v", len(alive), alive))
		}
		runtime.Gosched()
	}
}

func (s *childSampler) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure == nil {
		s.failure = err
	}
}

func (s *childSampler) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}

// zombieLimit is how long a child of ours may stay a zombie: exited
// children are reaped at once, but on a loaded machine "at once" can take
// seconds to get scheduled.
const zombieLimit = 10 * time.Second

// requireNoLingeringZombies fails if a child of ours that is a zombie now
// is still one after zombieLimit.
func requireNoLingeringZombies(t *testing.T) {
	t.Helper()
	type key struct {
		pid   int
		start uint64
	}
	zombies := map[key]bool{}
	for _, p := range ourChildren() {
		if p.state == 'Z' {
			zombies[key{p.pid, p.start}] = true
		}
	}
	// Polling the process table: there is no event for "reaped".
	if !testenv.Poll(zombieLimit, func() bool {
		still := map[key]bool{}
		for _, p := range ourChildren() {
			if k := (key{p.pid, p.start}); p.state == 'Z' && zombies[k] {
				still[k] = true
			}
		}
		zombies = still
		return len(zombies) == 0
	}) {
		t.Fatalf("children still zombies %v later (pid, start time): %v", zombieLimit, zombies)
	}
}

// --- leak checks ---

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // the directory being read
}

func fdList() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "  %s -> %s\n", e.Name(), target)
	}
	return b.String()
}
