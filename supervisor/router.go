package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// What llama-server's router and a sleeping server say about themselves,
// beyond health: in router mode the status carries the router's models
// (GET /models), and with sleep_after it says when the model sleeps
// (/props is_sleeping; in router mode, the models' states). These are
// read while the child runs, at most once per health_check_interval and
// at once after a load or unload, each read in a goroutine of its own and
// bounded like a probe, so a slow server never blocks the state machine.

// modelEvent reports a line of a router's output that says one of its
// models changed state: a model server ready, failing, falling asleep or
// waking (its lines come prefixed "[port] "), or exiting. The models are
// read at once then, so a load shows as done when it is, not up to a
// health interval later, while an idle router is read once per interval.
func modelEvent(line string) bool {
	if strings.HasPrefix(line, "[") {
		for _, m := range []string{"starting the main loop", "model loaded", "exiting due to", "handle_sleep:"} {
			if strings.Contains(line, m) {
				return true
			}
		}
		return false
	}
	return strings.Contains(line, "exited with status")
}

// modelEventsC is the child's model events, nil without a router.
func (r *runner) modelEventsC() <-chan struct{} {
	if !r.cfg.Router || r.child == nil {
		return nil
	}
	if m, ok := r.child.(interface{ ModelEvents() <-chan struct{} }); ok {
		return m.ModelEvents()
	}
	return nil
}

// ErrNoRouter is returned by LoadModel and UnloadModel when no router runs.
var ErrNoRouter = errors.New("llama-server's router is not running")

// maxRouterBody bounds an answer read from the router (/models lists each
// model's command line; a few kB per model).
const maxRouterBody = 4 << 20

// Bounds on what the status takes from the router's list.
const (
	maxModels      = 1000
	maxModelID     = 255
	maxModelError  = 300
	maxStateLength = 32
)

// routerClient talks to the child's HTTP API: no proxy (it is on this
// machine), no redirects, no idle connections left behind.
var routerClient = &http.Client{
	Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// httpDo sends one request and returns the status code and body (at most
// maxRouterBody bytes).
func httpDo(ctx context.Context, method, url string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := routerClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRouterBody))
	return resp.StatusCode, b, err
}

// baseURL is the child's address for API requests.
func baseURL(host string, port int) string {
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// extraKind says what an extra request was.
type extraKind int

const (
	extraModels   extraKind = iota // GET /models (router)
	extraProps                     // GET /props (sleeping, single mode)
	extraAutoload                  // POST /models/load of Autoload
)

type extraResult struct {
	gen      int
	kind     extraKind
	models   []status.ModelState
	sleeping bool
	err      error
}

// onRunning starts the router's extras once the child is healthy: the
// address for LoadModel, the autoload, the first read.
func (r *runner) onRunning() {
	if r.cfg.Router {
		u := baseURL(r.cfg.ProbeHost, r.cfg.Port)
		r.s.routerURL.Store(&u)
		r.autoload()
	}
	r.pollExtra()
}

// stopExtras forgets what the extras said about a child that is gone.
func (r *runner) stopExtras() {
	r.s.routerURL.Store(nil)
	r.models, r.sleeping, r.loadingRead = nil, false, 0
	if r.extraTimer != nil {
		r.extraTimer.Stop()
		r.extraTimer = nil
	}
	r.extraAgain = false
}

func (r *runner) extraTimerC() <-chan time.Time {
	if r.extraTimer == nil {
		return nil
	}
	return r.extraTimer.C
}

// pollExtra reads /models (router) or /props (sleep) now, unless a read
// is in flight; then it runs again once that one is back.
func (r *runner) pollExtra() {
	if r.child == nil || r.st.State != status.Running || !(r.cfg.Router || r.cfg.WatchSleep) {
		return
	}
	if r.extraPolling {
		r.extraAgain = true
		return
	}
	if r.extraTimer != nil {
		r.extraTimer.Stop()
		r.extraTimer = nil
	}
	r.extraPolling = true
	kind, path := extraProps, "/props"
	if r.cfg.Router {
		kind, path = extraModels, "/models"
	}
	r.goExtra(kind, path, nil)
}

// autoload asks the router to load Autoload.
func (r *runner) autoload() {
	if !r.cfg.Router || r.cfg.Autoload == "" || r.child == nil {
		return
	}
	body, _ := json.Marshal(map[string]string{"model": r.cfg.Autoload})
	r.goExtra(extraAutoload, "/models/load", body)
}

// goExtra runs one request in a goroutine of its own; the result comes
// back on extraDone.
func (r *runner) goExtra(kind extraKind, path string, body []byte) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Policy.probeTimeout())
	url := baseURL(r.cfg.ProbeHost, r.cfg.Port) + path
	gen := r.gen
	var tail []string
	if t, ok := r.child.(interface{ Tail() []string }); ok {
		tail = t.Tail()
	}
	do := r.s.httpDo
	r.extras.Add(1)
	go func() {
		defer r.extras.Done()
		defer cancel()
		res := extraResult{gen: gen, kind: kind}
		method := http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
		code, b, err := do(ctx, method, url, body)
		switch {
		case err != nil:
			res.err = err
		case kind == extraAutoload:
			// 400 "model is already running" is as good as a success.
		case code != http.StatusOK:
			res.err = fmt.Errorf("%s answered %d", path, code)
		case kind == extraModels:
			res.models, res.err = parseModels(b, tail)
			res.sleeping = routerSleeping(res.models)
		default:
			res.sleeping, res.err = parseSleeping(b)
		}
		select {
		case r.extraDone <- res:
		case <-r.ctx.Done(): // shutting down: nobody reads any more
		}
	}()
}

// onExtra takes a result back on the Run goroutine.
func (r *runner) onExtra(res extraResult) {
	if res.kind == extraAutoload {
		if res.err != nil {
			r.s.log.Warn("loading model_id into the router failed", "model", r.cfg.Autoload, "err", res.err)
		}
		r.pollExtra()
		return
	}
	r.extraPolling = false
	if res.gen != r.gen || r.child == nil || r.st.State != status.Running {
		return
	}
	if res.err != nil {
		// The health probe judges the server; this read only informs. Keep
		// what was known and try again next interval.
		r.s.log.Debug("reading the server's models or sleep state failed", "err", res.err)
	} else {
		r.models, r.sleeping = res.models, res.sleeping
		r.publish(r.st)
	}
	if r.extraAgain {
		r.extraAgain = false
		r.pollExtra()
		return
	}
	r.extraTimer = time.NewTimer(r.nextRead())
}

// Reads while a model loads: soon at first, then less often, up to the
// health interval. A load is an action whose end nothing else may
// announce in time (its ready line can come before the router's own
// bookkeeping), so it is followed, briefly, more closely than an idle
// router.
const loadingReadFirst = 100 * time.Millisecond

// nextRead is when to read the models again: after the health interval,
// or sooner while a model is loading.
func (r *runner) nextRead() time.Duration {
	interval := r.cfg.Policy.HealthCheckInterval
	loading := false
	for _, m := range r.models {
		loading = loading || m.State == status.ModelLoading
	}
	if !loading {
		r.loadingRead = 0
		return interval
	}
	if r.loadingRead == 0 {
		r.loadingRead = loadingReadFirst
	} else {
		r.loadingRead = min(2*r.loadingRead, interval)
	}
	return min(r.loadingRead, interval)
}

// routerModels is the part of GET /models the status uses.
type routerModels struct {
	Data []struct {
		ID     string `json:"id"`
		Status struct {
			Value    string   `json:"value"`
			Args     []string `json:"args"`
			Failed   bool     `json:"failed"`
			ExitCode int      `json:"exit_code"`
		} `json:"status"`
	} `json:"data"`
}

// parseModels turns the router's list into the status's models, sorted by
// ID. A model whose last load failed is "failed", its last_error the exit
// status and the most telling of its server's lines still in tail (the
// router prefixes them "[port] ").
func parseModels(body []byte, tail []string) ([]status.ModelState, error) {
	var v routerModels
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("GET /models: %w", err)
	}
	out := make([]status.ModelState, 0, min(len(v.Data), maxModels))
	for _, d := range v.Data[:min(len(v.Data), maxModels)] {
		ms := status.ModelState{ID: clean(d.ID, maxModelID), State: clean(d.Status.Value, maxStateLength)}
		if d.Status.Failed && ms.State != status.ModelLoading && ms.State != status.ModelLoaded {
			ms.State = status.ModelFailed
			ms.LastError = fmt.Sprintf("exited with status %d", d.Status.ExitCode)
			if line := tellingLine(classify(linesOf(tail, portArg(d.Status.Args)))); line != "" {
				ms.LastError += ": " + clean(line, maxModelError)
			}
		}
		out = append(out, ms)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// routerSleeping: the router's models sleep when one sleeps and none is
// awake or waking.
func routerSleeping(ms []status.ModelState) bool {
	asleep := false
	for _, m := range ms {
		switch m.State {
		case status.ModelSleeping:
			asleep = true
		case status.ModelLoaded, status.ModelLoading:
			return false
		}
	}
	return asleep
}

// parseSleeping reads is_sleeping from /props.
func parseSleeping(body []byte) (bool, error) {
	var v struct {
		IsSleeping bool `json:"is_sleeping"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return false, fmt.Errorf("GET /props: %w", err)
	}
	return v.IsSleeping, nil
}

// portArg is the value of --port in a model server's command line.
func portArg(args []string) string {
	for i, a := range args {
		if a == "--port" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// linesOf keeps the lines a model server printed through the router.
func linesOf(tail []string, port string) []string {
	if port == "" || port == "0" {
		return nil
	}
	prefix := "[" + port + "] "
	var out []string
	for _, l := range tail {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l[len(prefix):])
		}
	}
	return out
}

// clean makes text from the server safe to show: no control characters,
// at most n bytes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// LoadModel asks the running router to load model id. It runs on the
// caller's goroutine (bounded by ctx and the probe timeout), never on the
// Run goroutine, and has the status's models read again at once.
func (s *Supervisor) LoadModel(ctx context.Context, id string) error {
	return s.modelRequest(ctx, "/models/load", id)
}

// UnloadModel asks the running router to unload model id, or every model
// that is loaded, loading or sleeping when id is "".
func (s *Supervisor) UnloadModel(ctx context.Context, id string) error {
	if id != "" {
		return s.modelRequest(ctx, "/models/unload", id)
	}
	u := s.routerURL.Load()
	if u == nil {
		return ErrNoRouter
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Policy.probeTimeout())
	defer cancel()
	code, b, err := s.httpDo(ctx, http.MethodGet, *u+"/models", nil)
	if err != nil {
		return fmt.Errorf("asking the router for its models: %w", err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("asking the router for its models: %s", routerError(code, b))
	}
	ms, err := parseModels(b, nil)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range ms {
		switch m.State {
		case status.ModelLoaded, status.ModelLoading, status.ModelSleeping, status.ModelDownloading:
			errs = append(errs, s.modelRequest(ctx, "/models/unload", m.ID))
		}
	}
	s.mail.post(message{kind: msgPollModels})
	return errors.Join(errs...)
}

func (s *Supervisor) modelRequest(ctx context.Context, path, id string) error {
	u := s.routerURL.Load()
	if u == nil {
		return ErrNoRouter
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Policy.probeTimeout())
	defer cancel()
	body, _ := json.Marshal(map[string]string{"model": id})
	code, b, err := s.httpDo(ctx, http.MethodPost, *u+path, body)
	s.mail.post(message{kind: msgPollModels})
	if err != nil {
		return fmt.Errorf("asking the router: %w", err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("the router refused: %s", routerError(code, b))
	}
	return nil
}

// routerError is the message of the router's {"error":{"message":...}}.
func routerError(code int, body []byte) string {
	var v struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil && v.Error.Message != "" {
		return clean(v.Error.Message, maxModelError)
	}
	return fmt.Sprintf("answer %d", code)
}
