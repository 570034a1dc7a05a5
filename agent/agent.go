// Package agent is the running ocm-tray: it wires the settings, the
// supervisor, the control socket, the settings watcher, notifications and
// the tray together, and orders their shutdown so the child is reaped before
// the process exits. It decides nothing itself: each policy lives in the
// package that owns it.
//
// # Goroutines
//
// Run's goroutine runs the supervisor. Beside it, each with one owner and
// one end: the control server, the settings watcher, the notifier, the
// keeper of the logind inhibitor (package power) and the tray. All stop
// when Run's context is cancelled (a signal, the tray's Quit, `ocm-tray
// quit`), and Run returns only after every one of them returned.
package agent

import (
	"context"
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/control"
	"github.com/OpenCircuitDev/ocm-tray/internal/logfile"
	"github.com/OpenCircuitDev/ocm-tray/notify"
	"github.com/OpenCircuitDev/ocm-tray/power"
	"github.com/OpenCircuitDev/ocm-tray/settings"
	"github.com/OpenCircuitDev/ocm-tray/supervisor"
	"github.com/OpenCircuitDev/ocm-tray/tray"
)

// Options are the command line's choices.
type Options struct {
	ConfigPath string    // --config; empty = the XDG default
	Headless   bool      // --headless: no tray
	Stderr     io.Writer // where the agent also logs, and says "already running"
}

// Run runs the agent until ctx is done or the user quits. It returns nil
// after a clean shutdown, and also when another agent is already running
// (after saying so): a second start is not an error (docs/supervision.md).
func Run(ctx context.Context, opts Options) error {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	paths, err := settings.ResolvePaths(opts.ConfigPath)
	if err != nil {
		return err
	}
	if err := settings.EnsureRuntimeDir(paths.RuntimeDir); err != nil {
		return err
	}
	if err := settings.EnsureStateDir(paths.StateDir); err != nil {
		return err
	}
	logFile, err := logfile.Open(paths.AgentLog(), 0)
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(&untilError{w: opts.Stderr}, logFile), nil))

	lock, err := control.AcquireLock(paths.LockFile())
	var already *control.AlreadyRunningError
	if errors.As(err, &already) {
		fmt.Fprintf(opts.Stderr, "ocm-tray: %s\n", already)
		_ = notify.Once(ctx, notify.Message{Summary: "ocm-tray is already running", Body: fmt.Sprintf("Its icon is in the tray (pid %d). Use `ocm-tray status` to see what it is doing.", already.PID)})
		return nil
	}
	if err != nil {
		return err
	}
	defer lock.Release()

	a := &agent{opts: opts, paths: paths, log: log, catalog: newCatalog()}
	return a.run(ctx)
}

type agent struct {
	opts  Options
	paths settings.Paths
	log   *slog.Logger

	// mu serialises loading the settings: the watcher reloads on a change,
	// the settle timer when a model file may have finished downloading.
	mu       sync.Mutex
	lastGood settings.Settings
	haveGood bool // lastGood came from a valid file (or defaults)
	// settle re-runs the reload while the model file is still being
	// written: a download that stops writing sends no more events, so
	// nothing else would look at the file again. nil when not armed; after
	// shutdown began, closed is set and nothing is armed again.
	settle *time.Timer
	closed bool
	// snap identifies the settings file the last load read, for model_id
	// edits (settings.SetModelID); snapOK is false when the file changed
	// while it was being read (the watcher reloads it again).
	snap   settings.Snapshot
	snapOK bool

	// Set in run before anything may call reload or the model verbs.
	sup      *supervisor.Supervisor
	notifier *notify.Notifier
	keeper   *power.Keeper

	catalog *catalog       // the Models submenu's listing
	menuWG  sync.WaitGroup // model verbs started from the menu
}

func (a *agent) run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	pidFile := a.paths.PIDFile()

	// A llama-server left behind by an earlier agent is stopped before we
	// start ours, with the stop_timeout the settings give.
	a.mu.Lock()
	s, problems := a.load()
	cfg, settle := a.config(s, problems)
	a.mu.Unlock()
	if pid, err := supervisor.StopLeftover(ctx, pidFile, cfg.Policy.StopTimeout); err != nil {
		a.log.Warn("could not stop a leftover llama-server", "err", err)
	} else if pid != 0 {
		a.log.Info("stopped a leftover llama-server from an earlier run", "pid", pid, "stop_timeout", cfg.Policy.StopTimeout)
	}

	sup := supervisor.New(cfg, supervisor.WithLogger(a.log))
	notifier := notify.New(status.NotifyLevel(s.Notifications.Level), a.log, notify.WithHandlers(notify.Handlers{
		Restart:      sup.Restart,
		OpenLog:      func() { a.open(a.paths.ServerLog()) },
		OpenSettings: a.openSettings,
	}))
	keeper := power.New(s.Power.KeepAwakeWhileGenerating, a.log)
	a.sup, a.notifier, a.keeper = sup, notifier, keeper

	addr, err := control.Address(a.paths.Socket())
	if err != nil {
		return err
	}
	srv, err := control.Listen(addr, control.Source{Hub: sup.Hub(), Controls: sup, Models: a}, cancel, a.log)
	if err != nil {
		return err // it names the socket (or, on Windows, the pipe)
	}

	var wg sync.WaitGroup
	goDo := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Warn(name+" ended", "err", err)
			}
		}()
	}
	goDo("control server", func() error { return srv.Serve(ctx) })

	goDo("notifier", func() error { return a.notifyLoop(ctx, sup, notifier) })
	a.mu.Lock()
	a.armSettle(settle)
	a.mu.Unlock()
	defer a.stopSettle()

	goDo("keep awake", func() error { return keeper.Run(ctx, sup.Hub()) })

	goDo("settings watcher", func() error {
		what := func() settings.Watched {
			a.mu.Lock()
			defer a.mu.Unlock()
			return settings.Watched{Files: []string{a.paths.ConfigFile}, Dirs: []string{settings.ModelsDir(a.lastGood, a.paths.ModelsDir)}}
		}
		return settings.Watch(ctx, what, settings.DefaultDebounce, a.reload)
	})

	// The tray lives until the supervisor has reaped the child: Quit must
	// not remove the icon of a server that is still shutting down.
	trayCtx, trayCancel := context.WithCancel(context.Background())
	defer trayCancel()
	var trayDone chan struct{}
	defer a.menuWG.Wait()
	if !a.opts.Headless {
		t := tray.New(sup.Hub(), a.actions(ctx, sup, cancel), a.log)
		t.SetCatalog(a.catalog)
		trayDone = make(chan struct{})
		go func() {
			defer close(trayDone)
			if err := t.Run(trayCtx); err != nil {
				a.log.Warn("tray ended", "err", err)
			}
		}()
	}

	// The supervisor runs on a goroutine of its own, not on the caller's:
	// fyne.io/systray's init locks the main goroutine to the main thread
	// (macOS and Windows want UI there), and on a locked goroutine every
	// wake-up (each health probe) is a hand-off between two threads, which
	// doubled the idle agent's CPU.
	runDone := make(chan struct{})
	go func() { sup.Run(ctx); close(runDone) }()
	<-runDone   // after the child is reaped
	srv.Close() // answers pending `ocm-tray quit`s: the child is gone
	cancel()
	wg.Wait()
	trayCancel()
	if trayDone != nil {
		<-trayDone
	}
	return nil
}

// load reads the settings file, logs its problems and, when it is valid,
// makes it the last good settings. The caller holds mu.
func (a *agent) load() (settings.Settings, []settings.Problem) {
	// The file is identified before and after it is read: equal, the
	// snapshot is of the content these settings came from.
	before, berr := settings.TakeSnapshot(a.paths.ConfigFile)
	s, problems := settings.Load(a.paths.ConfigFile, a.opts.ConfigPath != "")
	after, aerr := settings.TakeSnapshot(a.paths.ConfigFile)
	a.snap, a.snapOK = after, berr == nil && aerr == nil && before == after
	a.logProblems(problems)
	if !settings.HasErrors(problems) {
		a.lastGood, a.haveGood = s, true
	}
	a.refreshCatalog(a.lastGood)
	return s, problems
}

// choice is which settings the supervisor runs on after a load.
type choice int

const (
	useLoaded    choice = iota // the file is valid: it takes effect
	keepLastGood               // invalid, but valid settings were seen: they stay in force
	refuseAll                  // invalid and nothing valid seen yet: spawn nothing
)

// chooseSettings decides what a load means (docs/settings.md): a valid file
// takes effect; an invalid one keeps the last good settings in force when
// there are any (a running server is never stopped by a bad edit), and
// otherwise nothing is spawned. Both invalid cases set settings_error.
func chooseSettings(loadedValid, haveGood bool) choice {
	switch {
	case loadedValid:
		return useLoaded
	case haveGood:
		return keepLastGood
	}
	return refuseAll
}

// config turns loaded settings into the supervisor's Config, as
// chooseSettings decides. settle is when to look at a model file still
// being written again (0: no need). The caller holds mu.
func (a *agent) config(s settings.Settings, problems []settings.Problem) (cfg supervisor.Config, settle time.Duration) {
	switch chooseSettings(!settings.HasErrors(problems), a.haveGood) {
	case keepLastGood:
		cfg, settle = a.build(a.lastGood)
		cfg.SettingsError = settings.ErrorText(problems)
		return cfg, settle
	case refuseAll:
		return supervisor.Config{Policy: supervisor.DefaultPolicy(), Refusal: "invalid settings in " + a.paths.ConfigFile + ": fix them (ocm-tray check lists every problem)", SettingsError: settings.ErrorText(problems)}, 0
	}
	return a.build(s)
}

func (a *agent) build(s settings.Settings) (supervisor.Config, time.Duration) {
	cfg, d := settings.Build(s, a.paths)
	cfg.PIDFile = a.paths.PIDFile()
	return cfg, d.Settle
}

// reload re-reads the settings after a change to the settings folder or the
// models folder. A valid file takes effect (the supervisor restarts the
// child only if what it runs changed); an invalid one keeps the running
// child and the last good settings and sets settings_error.
func (a *agent) reload() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reloadLocked()
}

// reloadLocked is reload with mu held.
func (a *agent) reloadLocked() {
	if a.closed {
		return
	}
	s, problems := a.load()
	if !settings.HasErrors(problems) {
		a.notifier.SetLevel(status.NotifyLevel(s.Notifications.Level))
		a.keeper.SetEnabled(s.Power.KeepAwakeWhileGenerating)
	}
	cfg, settle := a.config(s, problems)
	a.sup.Apply(cfg)
	a.armSettle(settle)
}

// settleMargin is added to the gate's settle time, so the file is looked
// at once it is past the window, not a hair before it.
const settleMargin = 100 * time.Millisecond

// armSettle schedules a reload after settle (0: cancels one). The caller
// holds mu.
func (a *agent) armSettle(settle time.Duration) {
	if a.settle != nil {
		a.settle.Stop()
		a.settle = nil
	}
	if settle <= 0 || a.closed {
		return
	}
	a.settle = time.AfterFunc(settle+settleMargin, a.reload)
}

// stopSettle cancels a pending settle reload for good. A reload already
// running finishes (it only posts to the supervisor); none starts after.
func (a *agent) stopSettle() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.settle != nil {
		a.settle.Stop()
		a.settle = nil
	}
}

func (a *agent) logProblems(problems []settings.Problem) {
	for _, p := range problems {
		if p.Warning {
			a.log.Warn("settings", "problem", p.String())
		} else {
			a.log.Error("settings", "problem", p.String())
		}
	}
}

// notifyLoop feeds every status change to the notifier. The notifier drains
// its queue promptly and sends in the background; should it ever fall
// behind and be cut off, it resubscribes from the current status.
func (a *agent) notifyLoop(ctx context.Context, sup *supervisor.Supervisor, n *notify.Notifier) error {
	for {
		sub := sup.Subscribe(256)
		err := n.Run(ctx, sub.C)
		sub.Close()
		if ctx.Err() != nil || sub.Err() == nil {
			return err
		}
		a.log.Warn("notifications fell behind; resubscribing", "err", sub.Err())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// actions are the tray menu's verbs. Each posts a message and returns at
// once: the tray's goroutine never waits for the supervisor.
func (a *agent) actions(ctx context.Context, sup *supervisor.Supervisor, quit context.CancelFunc) tray.Actions {
	return tray.Actions{
		UseModel: func(id string) {
			a.menuAction(ctx, "use "+id, func() (string, error) { return a.Use(id) })
		},
		LoadModel: func(id string) {
			a.menuAction(ctx, "load "+id, func() (string, error) { return a.Load(id) })
		},
		UnloadModel: func(id string) {
			a.menuAction(ctx, "unload "+id, func() (string, error) { return a.Unload(id) })
		},
		UnloadAll: func() {
			a.menuAction(ctx, "unload the models", func() (string, error) { return a.Unload("") })
		},
		Start:        sup.Start,
		Stop:         sup.Stop,
		Restart:      sup.Restart,
		Quit:         quit,
		OpenSettings: a.openSettings,
		OpenLogs:     func() { a.open(a.paths.StateDir) },
		OpenChat:     a.open,
		CopyURL: func(url string) {
			go func() {
				if err := copyText(context.Background(), url, nil); err != nil {
					a.log.Warn("cannot copy the server URL to the clipboard", "url", url, "err", err)
				}
			}()
		},
	}
}

// openSettings opens the settings file, writing the commented template
// first when there is none.
func (a *agent) openSettings() {
	created, err := settings.CreateTemplate(a.paths.ConfigFile)
	if err != nil {
		a.log.Warn("cannot create the settings template", "path", a.paths.ConfigFile, "err", err)
	} else if created {
		a.log.Info("created a commented settings template", "path", a.paths.ConfigFile)
	}
	a.open(a.paths.ConfigFile)
}

// open shows path in the desktop's default application, without waiting.
func (a *agent) open(path string) {
	if err := openPath(path); err != nil {
		a.log.Warn("cannot open", "path", path, "err", err)
	}
}

// untilError passes writes to w until one fails, and from then on drops
// them, saying they succeeded. The agent logs to its stderr and its log
// file through one io.MultiWriter, which stops at the first writer that
// fails: when stderr is a pipe whose reader went away (`ocm-tray 2>&1 |
// head`), the log file must still get every line.
type untilError struct {
	w      io.Writer
	mu     sync.Mutex
	failed bool
}

func (u *untilError) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.failed {
		if _, err := u.w.Write(p); err != nil {
			u.failed = true
		}
	}
	return len(p), nil
}
