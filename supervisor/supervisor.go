package supervisor

import (
	"context"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/logfile"
)

// Supervisor keeps one llama-server alive. Construct it with New, then call
// Run; every other method is safe from any goroutine and never blocks on the
// child.
type Supervisor struct {
	hub  *status.Hub
	mail *mailbox
	log  *slog.Logger
	cfg  Config // the initial settings; the Run goroutine owns its copy

	// The seams to the outside world; tests replace them with fakes driven
	// by fake time (testing/synctest).
	spawn     func(*Command, *logfile.File) (proc, error)
	probe     func(ctx context.Context, url string, q liveQuery) (liveAnswer, error)
	portInUse func(ctx context.Context, host string, port int) bool
	httpDo    func(ctx context.Context, method, url string, body []byte) (int, []byte, error)

	// routerURL is the running router's address (router mode, while it
	// runs), for LoadModel and UnloadModel; nil otherwise.
	routerURL atomic.Pointer[string]
}

type message struct {
	kind    msgKind
	cfg     Config
	log     *logfile.File   // msgLogTrouble: which log
	trouble logfile.Trouble // msgLogTrouble: what changed
}

type msgKind int

const (
	msgStart msgKind = iota
	msgStop
	msgRestart
	msgApply
	msgLogTrouble // the llama-server log stopped or resumed being written
	msgPollModels // a model was loaded or unloaded: read the models now
)

// Option adjusts a Supervisor at construction.
type Option func(*Supervisor)

// WithLogger sets where the supervisor logs (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Supervisor) { s.log = l } }

// New builds a supervisor for cfg. It starts nothing: Run does.
func New(cfg Config, opts ...Option) *Supervisor {
	s := &Supervisor{
		hub:  status.NewHub(status.Status{State: status.NotSpawning, Reason: "ocm-tray is starting up", Model: cfg.Model, Since: time.Now()}),
		mail: newMailbox(),
		log:  slog.New(slog.DiscardHandler),
		cfg:  cfg,
	}
	s.spawn, s.probe, s.portInUse, s.httpDo = spawn, newHTTPProber().check, portAnswers, httpDo
	for _, o := range opts {
		o(s)
	}
	return s
}

// Hub is where the supervisor publishes its status: readers take the
// current status, subscribe to every change, or ask to be poked on changes.
func (s *Supervisor) Hub() *status.Hub { return s.hub }

// Subscribe returns every status change from now on, the current status
// first. A reader that falls more than buffer events behind is cut off.
func (s *Supervisor) Subscribe(buffer int) *status.Subscription { return s.hub.Subscribe(buffer) }

// Start asks for the child to be started (from stopped or failed).
func (s *Supervisor) Start() { s.mail.post(message{kind: msgStart}) }

// Stop asks for the child to be stopped; the state becomes stopped.
func (s *Supervisor) Stop() { s.mail.post(message{kind: msgStop}) }

// Restart stops the child, resets the restart count and re-runs the gate.
func (s *Supervisor) Restart() { s.mail.post(message{kind: msgRestart}) }

// Apply installs new settings. A change that leaves the child's argv,
// environment and policy as they were does not restart it.
func (s *Supervisor) Apply(cfg Config) { s.mail.post(message{kind: msgApply, cfg: cfg}) }
