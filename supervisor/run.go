package supervisor

import (
	"context"
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/oserr"
	"strings"
	"sync"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/logfile"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// Probe schedule while starting: fast at first, so a server that loads in
// tens of milliseconds is noticed at once, then every startingPollMax.
// The child's ready lines (readyMarkers) trigger a probe immediately, so
// readiness is seen within a millisecond or two of the first 200.
const (
	startingPollFirst = 5 * time.Millisecond
	startingPollMax   = 250 * time.Millisecond
)

// wakeKind says what the single wake-up timer is for.
type wakeKind int

const (
	wakeNone    wakeKind = iota
	wakeProbe            // starting/running: time to probe
	wakeRespawn          // restarting: backoff elapsed
	wakePort             // not_spawning: re-check whether the port is free
)

type probeResult struct {
	gen   int // which child it was for; results for an older child are ignored
	err   error
	asked bool       // the check carried the live view's reads
	live  liveAnswer // what they found
}

// runner is the state owned by the Run goroutine. Nothing else touches it.
type runner struct {
	s   *Supervisor
	ctx context.Context
	cfg Config
	st  status.Status // as last published

	child    proc
	gen      int // bumped for every child, so stale probe results are dropped
	readyC   <-chan struct{}
	logFile  *logfile.File
	restarts int // restarts spent from the current budget
	// totalRestarts counts every restart since Run began, for the status's
	// "restarts" (the tooltip's "restarted twice").
	totalRestarts int
	runningAt     time.Time
	lastOK        time.Time
	lastProbe     error
	live          liveState // the live view of the current child

	wake      *time.Timer
	wakeKind  wakeKind
	pollDelay time.Duration
	deadline  *time.Timer // startup_timeout while starting

	thread *spawnThread // every spawn happens here (parent-death signal)

	probing    bool
	probeAgain bool
	probeDone  chan probeResult
	probes     sync.WaitGroup

	// logWarning says the log cannot be written; shown beside the
	// settings' warning until writing works again.
	logWarning string

	// What the router's models and the sleep state were last read as
	// (router.go), and the reads in flight.
	models       []status.ModelState
	sleeping     bool
	extraPolling bool
	extraAgain   bool
	extraTimer   *time.Timer
	loadingRead  time.Duration // the last delay between reads while a model loads
	extraDone    chan extraResult
	extras       sync.WaitGroup
}

// Run supervises until ctx is done, then stops the child, publishes stopped
// and returns once the child is reaped. Call it once.
func (s *Supervisor) Run(ctx context.Context) {
	r := &runner{s: s, ctx: ctx, cfg: s.cfg, st: s.hub.Status(), probeDone: make(chan probeResult, 1), extraDone: make(chan extraResult, 1), thread: startSpawnThread()}
	defer r.shutdown()
	r.evaluate()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.mail.ready:
			for _, m := range s.mail.take() {
				r.handle(m)
			}
		case <-r.exitedC():
			r.fail(r.child.Exit())
		case <-r.readyC:
			r.startProbe()
		case res := <-r.probeDone:
			r.onProbe(res)
		case res := <-r.extraDone:
			r.onExtra(res)
		case <-r.extraTimerC():
			r.extraTimer = nil
			r.pollExtra()
		case <-r.modelEventsC():
			r.pollExtra()
		case <-r.wakeC():
			r.onWake()
		case <-r.deadlineC():
			r.deadline = nil
			d := diagnosis{lastError: fmt.Sprintf("not ready within startup_timeout %s", r.cfg.Policy.StartupTimeout)}
			if r.lastProbe != nil {
				d.lastError += fmt.Sprintf(" (last health check: %v)", r.lastProbe)
			}
			if errors.Is(r.lastProbe, errLoading) {
				d.hint = hintStartTimeout
			}
			r.fail(d)
		}
	}
}

func (r *runner) exitedC() <-chan struct{} {
	if r.child == nil {
		return nil
	}
	return r.child.Exited()
}

func (r *runner) wakeC() <-chan time.Time {
	if r.wake == nil {
		return nil
	}
	return r.wake.C
}

func (r *runner) deadlineC() <-chan time.Time {
	if r.deadline == nil {
		return nil
	}
	return r.deadline.C
}

func (r *runner) handle(m message) {
	switch m.kind {
	case msgStop:
		r.stopChild()
		r.disarm()
		r.publish(status.Status{State: status.Stopped})
	case msgStart:
		switch r.st.State {
		case status.Stopped, status.FailedAfterMaxRestarts:
			r.restarts = 0
			r.evaluate()
		case status.NotSpawning:
			r.evaluate() // the gate runs again on Start
		}
	case msgRestart:
		r.stopChild()
		r.restarts = 0
		r.evaluate()
	case msgApply:
		r.apply(m.cfg)
	case msgLogTrouble:
		r.logTrouble(m.log, m.trouble)
	case msgPollModels:
		r.pollExtra()
	}
}

// apply installs new settings. Only a change to what the child runs with
// restarts it; a new settings_error or warning is just republished, so an
// invalid edit never touches a running server.
func (r *runner) apply(cfg Config) {
	old := r.cfg
	r.cfg = cfg
	switch {
	case r.st.State == status.Stopped:
		// The user stopped it; new settings wait for Start.
	case old.childEqual(cfg) && !(r.st.State == status.NotSpawning && !r.st.PortConflict()):
		// Same child. (A gate refusal is re-run on any change: the model
		// folder may have gained the file.) A router loads a new model_id.
		if cfg.Autoload != old.Autoload && r.st.State == status.Running {
			r.autoload()
		}
	default:
		r.stopChild()
		r.restarts = 0
		r.evaluate()
		return
	}
	r.publish(r.st)
}

// evaluate runs the spawn-gate and the port check and, if both pass, spawns.
func (r *runner) evaluate() {
	r.disarm()
	cfg := r.cfg
	if cfg.Command == nil {
		r.publish(status.Status{State: status.NotSpawning, Reason: cfg.Refusal})
		return
	}
	if cfg.Recheck != nil {
		if reason := cfg.Recheck(); reason != "" {
			r.publish(status.Status{State: status.NotSpawning, Reason: reason})
			return
		}
	}
	if r.s.portInUse(r.ctx, cfg.ProbeHost, cfg.Port) {
		// Not our server: never start a second one beside it (a second
		// llama-server would share the port through SO_REUSEPORT). This
		// costs no restart; look again every health_check_interval.
		r.publish(status.Status{State: status.NotSpawning, Reason: status.PortInUse(cfg.Port), Hint: HintPortTaken(cfg.Port)})
		r.arm(wakePort, cfg.Policy.HealthCheckInterval)
		return
	}
	if r.ctx.Err() != nil {
		// Shutdown began (maybe during the port check, which a cancelled
		// context answers with "free"): nothing is started after it.
		return
	}
	log := r.openLog()
	var p proc
	var err error
	r.thread.do(func() { p, err = r.s.spawn(cfg.Command, log) })
	if err != nil {
		r.publish(status.Status{State: status.NotSpawning, Reason: err.Error()})
		return
	}
	r.child = p
	r.gen++
	r.live.reset(p.Pid())
	r.readyC = p.Ready()
	r.lastProbe = nil
	r.writePIDFile(p.Pid())
	r.deadline = time.NewTimer(cfg.Policy.StartupTimeout)
	r.pollDelay = startingPollFirst
	r.publish(status.Status{State: status.Starting, PID: p.Pid()})
	r.arm(wakeProbe, r.pollDelay)
}

func (r *runner) onWake() {
	kind := r.wakeKind
	r.wake, r.wakeKind = nil, wakeNone
	switch kind {
	case wakeProbe:
		r.startProbe()
	case wakeRespawn:
		r.evaluate()
	case wakePort:
		r.evaluate()
	}
}

// startProbe runs one health probe in its own goroutine, so a slow or hung
// endpoint never blocks the state machine. At most one is in flight.
func (r *runner) startProbe() {
	if r.child == nil {
		return
	}
	if r.probing {
		r.probeAgain = true
		return
	}
	r.probing = true
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Policy.probeTimeout())
	url := healthURL(r.cfg.ProbeHost, r.cfg.Port)
	gen := r.gen
	var q liveQuery
	if wantsLive(r.cfg, r.st.State) {
		q = r.live.query(r.cfg.auth())
	}
	r.probes.Add(1)
	go func() {
		defer r.probes.Done()
		defer cancel()
		live, err := r.s.probe(ctx, url, q)
		r.probeDone <- probeResult{gen: gen, err: err, asked: q.active(), live: live} // cap 1, one in flight: never blocks
	}()
}

func (r *runner) onProbe(res probeResult) {
	r.probing = false
	if res.gen != r.gen || r.child == nil {
		// For a child that is gone. A probe asked for the current child
		// while this one was out (its first scheduled probe, its ready
		// marker) was only noted: run it now, or nothing would probe the
		// new child until startup_timeout.
		if r.probeAgain {
			r.probeAgain = false
			r.startProbe()
		}
		return
	}
	again := r.probeAgain
	r.probeAgain = false
	now := time.Now()
	switch r.st.State {
	case status.Starting:
		if res.err == nil {
			r.deadline.Stop()
			r.deadline = nil
			r.readyC = nil // ready lines matter while starting only
			r.runningAt, r.lastOK = now, now
			r.publish(status.Status{State: status.Running, PID: r.child.Pid()})
			r.onRunning()
			if wantsLive(r.cfg, status.Running) {
				// The first reading now, not a health interval later: the
				// tooltip says what the server is doing from the start.
				r.startProbe()
				return
			}
			r.arm(wakeProbe, r.cfg.Policy.HealthCheckInterval)
			return
		}
		// 503 "Loading model", or not listening yet: progress, keep polling.
		r.lastProbe = res.err
		if again {
			r.startProbe()
			return
		}
		r.pollDelay = min(r.pollDelay*2, startingPollMax)
		r.arm(wakeProbe, r.pollDelay)
	case status.Running:
		if res.err == nil {
			r.lastOK = now
			if res.asked {
				r.live.merge(res.live)
				r.publish(r.st) // publish shows r.live's activity; nothing goes out unless it changed
			}
		} else {
			r.lastProbe = res.err
			// A busy server may answer slowly (llama.cpp #20684): one bad
			// probe proves nothing; only health_check_timeout without a good
			// one does.
			if since := now.Sub(r.lastOK); since >= r.cfg.Policy.HealthCheckTimeout {
				r.fail(diagnosis{lastError: fmt.Sprintf("unhealthy: no successful health check for %s (%v)", since.Round(time.Millisecond), res.err)})
				return
			}
		}
		r.arm(wakeProbe, r.cfg.Policy.HealthCheckInterval)
	}
}

// fail handles a child that exited, never became ready, or went unhealthy:
// stop it if it lives, then spend one restart or give up. A failure that
// retrying cannot fix gives up at once, with the restarts spent so far.
func (r *runner) fail(d diagnosis) {
	stable := r.st.State == status.Running && time.Since(r.runningAt) >= r.cfg.Policy.StabilityWindow
	r.stopChild()
	r.disarm()
	if stable {
		r.restarts = 0 // it ran well for a while: this is not a crash loop
	}
	if d.permanent || r.restarts >= r.cfg.Policy.MaxRestarts {
		r.publish(status.Status{State: status.FailedAfterMaxRestarts, Attempts: r.restarts, LastError: d.lastError, Hint: d.hint})
		return
	}
	r.restarts++
	r.totalRestarts++
	r.publish(status.Status{State: status.Restarting, Attempt: r.restarts, LastError: d.lastError, Hint: d.hint})
	r.arm(wakeRespawn, r.cfg.Policy.Backoff(r.restarts))
}

// stopChild stops the child, if any, and reaps it: SIGTERM to its process
// group once (llama-server treats a second signal as "terminate
// immediately"), stop_timeout, then SIGKILL to the group. However it exits
// now (the real llama-server dies by SIGABRT on SIGTERM), it is not a crash:
// we asked. The wait is bounded by stop_timeout; shutdown would do the same.
func (r *runner) stopChild() {
	c := r.child
	if c == nil {
		return
	}
	r.child, r.readyC = nil, nil
	r.gen++
	r.stopExtras()
	if r.deadline != nil {
		r.deadline.Stop()
		r.deadline = nil
	}
	select {
	case <-c.Exited():
	default:
		if err := c.Terminate(); err != nil {
			r.s.log.Warn("SIGTERM to llama-server failed", "pid", c.Pid(), "err", err)
		}
		t := time.NewTimer(r.cfg.Policy.StopTimeout)
		select {
		case <-c.Exited():
		case <-t.C:
			r.s.log.Warn("llama-server ignored SIGTERM; killing its process group", "pid", c.Pid(), "stop_timeout", r.cfg.Policy.StopTimeout)
			c.Kill()
			<-c.Exited()
		}
		t.Stop()
	}
	r.removePIDFile()
}

func (r *runner) arm(kind wakeKind, d time.Duration) {
	r.disarm()
	r.wake, r.wakeKind = time.NewTimer(d), kind
}

func (r *runner) disarm() {
	if r.wake != nil {
		r.wake.Stop()
		r.wake, r.wakeKind = nil, wakeNone
	}
}

// publish completes st with the annotations every variant carries and makes
// it current, unless nothing a reader could see changed.
func (r *runner) publish(st status.Status) {
	st.Model, st.Warning, st.SettingsError = r.cfg.Model, r.cfg.Warning, r.cfg.SettingsError
	if r.logWarning != "" {
		st.Warning = strings.TrimPrefix(st.Warning+"; "+r.logWarning, "; ")
	}
	st.Restarts = r.totalRestarts
	st.URL, st.Activity = "", status.Activity{}
	if st.PID > 0 {
		st.URL = r.cfg.BaseURL()
	}
	if st.State == status.Running {
		st.Models, st.Sleeping = r.models, r.sleeping
		st.Activity = r.live.act
	}
	if st.State == status.Restarting || st.State == status.FailedAfterMaxRestarts {
		st.MaxRestarts = r.cfg.Policy.MaxRestarts // the N of "attempt n/N"
	}
	now := time.Now()
	st.Since = r.st.Since
	if st.State != r.st.State || st.Since.IsZero() {
		st.Since = now
	}
	if st.Equal(r.st) {
		return
	}
	if st.State != r.st.State && !status.LegalTransition(r.st.State, st.State) {
		r.s.log.Error("illegal status transition (bug)", "from", r.st.State, "to", st.State)
	}
	r.s.log.Info("status", logAttrs(st)...)
	r.st = st
	r.s.hub.Publish(st, now)
}

func (r *runner) openLog() *logfile.File {
	if r.cfg.LogPath == "" {
		return nil
	}
	if r.logFile != nil && r.logFile.Path() == r.cfg.LogPath {
		return r.logFile
	}
	if r.logFile != nil {
		r.logFile.Close()
	}
	r.logWarning = ""
	f, err := logfile.Open(r.cfg.LogPath, 0)
	if err != nil {
		r.s.log.Warn("cannot open llama-server log; its output is discarded", "path", r.cfg.LogPath, "err", err)
		r.logFile = nil
		return nil
	}
	f.OnTrouble(func(tr logfile.Trouble) { r.s.mail.post(message{kind: msgLogTrouble, log: f, trouble: tr}) })
	r.logFile = f
	return f
}

// logTrouble says, once, that llama-server's log cannot be written (its
// lines are dropped and counted, the child never notices), and when it can
// again.
func (r *runner) logTrouble(f *logfile.File, tr logfile.Trouble) {
	if f != r.logFile {
		return // a log since replaced
	}
	if tr.Err != nil {
		r.s.log.Warn("cannot write the llama-server log; its lines are dropped until that works again", "path", f.Path(), "err", tr.Err)
		why := oserr.Cause(tr.Err) // the path is said once, below
		r.logWarning = fmt.Sprintf("the llama-server log %s cannot be written (%v): its lines are being lost", f.Path(), why)
	} else {
		r.s.log.Info("the llama-server log is written again", "path", f.Path(), "lost_lines", tr.Lost)
		r.logWarning = ""
	}
	r.publish(r.st)
}

// shutdown stops the child, publishes the final stopped and ends every
// subscription. It runs when Run returns.
func (r *runner) shutdown() {
	r.stopChild()
	r.thread.stop() // the last child is reaped: its parent thread may go
	r.disarm()
	r.probes.Wait()
	r.extras.Wait()
	r.publish(status.Status{State: status.Stopped})
	if r.logFile != nil {
		r.logFile.Close()
	}
	r.s.hub.Close()
}
