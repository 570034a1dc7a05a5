package fakellama

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/models"
)

// Router mode, as current llama-server builds have it (--models-dir without
// -m): the router serves /health at once, lists the folder's models on
// GET /models with status.value unloaded | loading | loaded | sleeping (and
// failed + exit_code after a failed load), loads one on POST /models/load
// by starting a model server of its own (this same program, with -m) on a
// port of its own, unloads it on POST /models/unload, unloads the one used
// longest ago when --models-max would be exceeded, and forwards generation
// requests to the model they name, loading it first. Model servers are in
// the router's process group, their output comes out of the router's
// stderr prefixed "[port]", and they exit when the router's pipe to them
// closes.

// Model states in /models.
const (
	stateUnloaded = "unloaded"
	stateLoading  = "loading"
	stateLoaded   = "loaded"
	stateSleeping = "sleeping"
)

// childEnvDropped are knobs for the router itself, not its model servers.
var childEnvDropped = []string{EnvPidfile, EnvCrashAfter, EnvHangAfter, EnvUnhealthyAfter}

type router struct {
	opts options
	lg   *logger
	port int
	exe  string
	env  []string

	mu      sync.Mutex
	models  map[string]*routed
	useSeq  int64
	wg      sync.WaitGroup // output readers and waiters of model servers
	stopped bool
}

// routed is one model as the router knows it.
type routed struct {
	id, path string
	state    string
	failed   bool
	exitCode int
	port     int
	args     []string
	lastUse  int64

	cmd           *exec.Cmd
	stdin         io.WriteCloser
	exitRequested bool
	exited        chan struct{}
}

func (m *routed) running() bool { return m.state != stateUnloaded }

func runRouter(opts options, k knobs, lg *logger) int {
	sigs, stopSignals := trapSignals(k)
	defer stopSignals()
	lg.printf("0.00.000.010 I build: 7000 (fake) with fake-llama-server (%s) for %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if sig, ok := waitOrSignal(k.startDelay, sigs); ok {
		dieBySignal(sig)
	}
	ln, err := listen(opts.host, opts.port)
	if err != nil {
		lg.printf("0.00.010.000 E srv         start: couldn't bind HTTP server socket, hostname: %s, port: %d", opts.host, opts.port)
		lg.printf("0.00.010.000 E srv  llama_server: exiting due to HTTP server error")
		return 1
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if !writePidfile(k, lg) {
		_ = ln.Close()
		return 2
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	r := &router{opts: opts, lg: lg, port: port, exe: exe, env: childEnv(port), models: map[string]*routed{}}
	n := len(r.scan())
	st := &serverState{}
	srv := &http.Server{Handler: r.handler(st, k), ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	lg.printf("0.00.011.000 I srv    load_models: Loaded %d local model presets from %s", n, opts.modelsDir)
	lg.printf("0.00.011.100 I srv  llama_server: starting server in router mode. models will be automatically loaded on-demand")
	lg.printf("0.00.011.200 I srv  llama_server: listening on http://%s:%d", opts.host, port)
	st.ready.Store(true)

	return serve(k, lg, st, sigs, nil, func() int {
		lg.printf("0.00.020.000 I srv    operator(): operator(): cleaning up before exit...")
		r.stopAll()
		return 0
	})
}

// childEnv is the router's environment for its model servers: marked as
// its children, without the knobs meant for the router alone.
func childEnv(routerPort int) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		drop := name == EnvRouterPort
		for _, d := range childEnvDropped {
			drop = drop || name == d
		}
		if !drop {
			env = append(env, kv)
		}
	}
	return append(env, EnvRouterPort+"="+strconv.Itoa(routerPort))
}

// scan finds the models in the folder (a split model by its first part,
// projector files left out) and returns their IDs, sorted. The caller
// holds mu, or nothing else runs yet.
func (r *router) scan() []string {
	entries, _ := os.ReadDir(r.opts.modelsDir)
	var ids []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, models.Ext) || strings.Contains(strings.ToLower(name), "mmproj") {
			continue
		}
		id := strings.TrimSuffix(name, models.Ext)
		if sp, ok := models.ParseSplit(id); ok && sp.No != 1 {
			continue
		}
		ids = append(ids, id)
		if r.models[id] == nil {
			r.models[id] = &routed{id: id, path: filepath.Join(r.opts.modelsDir, name), state: stateUnloaded}
		}
	}
	sort.Strings(ids)
	return ids
}

func (r *router) handler(st *serverState, k knobs) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		if st.unhealthy.Load() {
			writeValue(w, k.unhealthyStatus, map[string]any{"error": map[string]any{"code": k.unhealthyStatus, "message": "fake-llama-server: unhealthy", "type": "server_error"}})
			return
		}
		writeJSON(w, http.StatusOK, bodyHealthy)
	})
	mux.HandleFunc("/v1/health", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, bodyHealthy) })
	mux.HandleFunc("GET /models", r.list)
	mux.HandleFunc("GET /v1/models", r.list)
	mux.HandleFunc("POST /models/load", r.load)
	mux.HandleFunc("POST /models/unload", r.unload)
	mux.HandleFunc("/props", func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Query().Get("model") != "" {
			r.forward(w, req, req.URL.Query().Get("model"), nil)
			return
		}
		writeValue(w, http.StatusOK, map[string]any{
			"role": "router", "max_instances": r.opts.modelsMax, "models_autoload": !r.opts.noAutoload,
			"model_alias": "llama-server", "model_path": "none",
			"default_generation_settings": map[string]any{"params": map[string]any{}, "n_ctx": 0},
		})
	})
	for _, p := range []string{"/completion", "/completions", "/v1/completions", "/chat/completions", "/v1/chat/completions"} {
		mux.HandleFunc("POST "+p, r.generate)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		if name := req.URL.Query().Get("model"); name != "" {
			r.forward(w, req, name, nil)
			return
		}
		writeError(w, http.StatusBadRequest, "model name is missing from the request", "invalid_request_error")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if st.hung.Load() {
			<-req.Context().Done()
			return
		}
		mux.ServeHTTP(w, req)
	})
}

func writeError(w http.ResponseWriter, code int, msg, typ string) {
	writeValue(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "type": typ}})
}

func (r *router) list(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	ids := r.scan()
	data := make([]any, 0, len(ids))
	for _, id := range ids {
		m := r.models[id]
		status := map[string]any{"value": m.state, "args": r.argsOf(m)}
		if m.failed {
			status["failed"], status["exit_code"] = true, m.exitCode
		}
		data = append(data, map[string]any{
			"id": id, "aliases": []string{}, "tags": []string{}, "object": "model", "owned_by": "llamacpp",
			"created": time.Now().Unix(), "status": status, "source": "models_dir",
		})
	}
	r.mu.Unlock()
	writeValue(w, http.StatusOK, map[string]any{"data": data, "object": "list"})
}

// modelName reads {"model": NAME} from a request body.
func modelName(req *http.Request) (string, []byte, error) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		return "", nil, err
	}
	var v struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", body, err
	}
	return v.Model, body, nil
}

func (r *router) load(w http.ResponseWriter, req *http.Request) {
	r.withModel(w, req, func(m *routed) (int, string, string) {
		switch {
		case m == nil:
			return http.StatusNotFound, "model is not found", "not_found_error"
		case m.running():
			return http.StatusBadRequest, "model is already running", "invalid_request_error"
		}
		r.start(m)
		return http.StatusOK, "", ""
	})
}

func (r *router) unload(w http.ResponseWriter, req *http.Request) {
	r.withModel(w, req, func(m *routed) (int, string, string) {
		switch {
		case m == nil:
			return http.StatusBadRequest, "model is not found", "invalid_request_error"
		case !m.running():
			return http.StatusBadRequest, "model is not running", "invalid_request_error"
		}
		r.requestExit(m)
		return http.StatusOK, "", ""
	})
}

// withModel serves POST /models/load and /models/unload: act runs with mu
// held on the model the body names (nil when there is none) and says the
// answer: 200 is {"success":true}, anything else the error it gives.
func (r *router) withModel(w http.ResponseWriter, req *http.Request, act func(*routed) (code int, msg, typ string)) {
	name, _, err := modelName(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "invalid_request_error")
		return
	}
	r.mu.Lock()
	r.scan()
	code, msg, typ := act(r.models[name])
	r.mu.Unlock()
	if code != http.StatusOK {
		writeError(w, code, msg, typ)
		return
	}
	writeValue(w, http.StatusOK, map[string]any{"success": true})
}

// argsOf is the model server's command line; the port is 0 until it runs.
func (r *router) argsOf(m *routed) []string {
	if m.args != nil {
		return m.args
	}
	return r.childArgs(m, 0)
}

func (r *router) childArgs(m *routed, port int) []string {
	args := []string{r.exe, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--alias", m.id, "--model", m.path, "--ctx-size", strconv.Itoa(r.opts.ctx)}
	if r.opts.sleepIdle > 0 {
		args = append(args, "--sleep-idle-seconds", strconv.Itoa(r.opts.sleepIdle))
	}
	return args
}

// start loads m: evicts the model used longest ago if --models-max is
// reached, then starts m's server. The caller holds mu.
func (r *router) start(m *routed) {
	if r.stopped {
		return
	}
	if limit := r.opts.modelsMax; limit > 0 {
		var running []*routed
		for _, o := range r.models {
			if o != m && o.running() && !o.exitRequested {
				running = append(running, o)
			}
		}
		sort.Slice(running, func(i, j int) bool { return running[i].lastUse < running[j].lastUse })
		for len(running) >= limit {
			r.lg.printf("0.00.030.000 I srv          load: unloading model '%s' to make room (models-max %d)", running[0].id, limit)
			r.requestExit(running[0])
			running = running[1:]
		}
	}
	port, err := freePort()
	if err != nil {
		m.failed, m.exitCode = true, 1
		return
	}
	m.args = r.childArgs(m, port)
	cmd := exec.Command(m.args[0], m.args[1:]...)
	cmd.Env = r.env
	stdin, err1 := cmd.StdinPipe()
	stdout, err2 := cmd.StdoutPipe()
	stderr, err3 := cmd.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		m.failed, m.exitCode = true, 1
		return
	}
	if err := cmd.Start(); err != nil {
		r.lg.printf("0.00.030.000 E srv          load: failed to start model server: %v", err)
		m.failed, m.exitCode = true, 1
		return
	}
	r.useSeq++
	m.state, m.failed, m.exitCode, m.port, m.lastUse = stateLoading, false, 0, port, r.useSeq
	m.cmd, m.stdin, m.exitRequested, m.exited = cmd, stdin, false, make(chan struct{})
	r.lg.printf("0.00.030.000 I srv          load: loading model '%s' on port %d", m.id, port)
	// cmd.Wait closes the pipes: it may only run once both relays read
	// them to the end, or the model server's last lines (why it failed)
	// are lost.
	var relays sync.WaitGroup
	relays.Add(2)
	r.wg.Add(3)
	go func() { defer relays.Done(); r.relay(stderr, port, nil) }()
	go func() { defer relays.Done(); r.relay(stdout, port, m) }()
	go func() { relays.Wait(); r.reap(m, cmd) }()
}

// relay copies a model server's output to the router's stderr, prefixed
// with its port; on stdout it also reads the server's state reports.
func (r *router) relay(rd io.Reader, port int, m *routed) {
	defer r.wg.Done()
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m != nil && strings.HasPrefix(line, childStatePrefix) {
			var v struct {
				State string `json:"state"`
			}
			if json.Unmarshal([]byte(line[len(childStatePrefix):]), &v) == nil {
				r.childState(m, v.State)
			}
			continue
		}
		r.lg.printf("[%d] %s", port, line)
	}
	io.Copy(io.Discard, rd)
}

func (r *router) childState(m *routed, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.state == stateUnloaded {
		return
	}
	switch state {
	case childLoading:
		m.state = stateLoading
	case childReady:
		m.state = stateLoaded
	case childSleeping:
		m.state = stateSleeping
	}
}

// reap waits for a model server to exit. One that exits with an error
// failed: /models says so with its exit code.
func (r *router) reap(m *routed, cmd *exec.Cmd) {
	defer r.wg.Done()
	err := cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lg.printf("0.00.040.000 I srv    operator(): instance name=%s exited with status %d", m.id, code)
	m.failed = code != 0
	m.exitCode = code
	m.state, m.cmd, m.stdin, m.port = stateUnloaded, nil, nil, 0
	close(m.exited)
}

// requestExit asks a model server to exit, as the router does: a command
// on its stdin. The caller holds mu.
func (r *router) requestExit(m *routed) {
	if m.stdin == nil || m.exitRequested {
		return
	}
	m.exitRequested = true
	fmt.Fprintf(m.stdin, "%s\n", routerExitCmd)
}

// stopAll stops every model server before the router exits, then waits
// for their output to end.
func (r *router) stopAll() {
	r.mu.Lock()
	r.stopped = true
	var waits []chan struct{}
	var cmds []*exec.Cmd
	for _, m := range r.models {
		if m.cmd != nil {
			r.requestExit(m)
			waits = append(waits, m.exited)
			cmds = append(cmds, m.cmd)
		}
	}
	r.mu.Unlock()
	deadline := time.After(5 * time.Second)
	for i, w := range waits {
		select {
		case <-w:
		case <-deadline:
			_ = cmds[i].Process.Kill()
			<-w
		}
	}
	r.wg.Wait()
}

// generate serves a generation request: the model it names is loaded
// first if need be (autoload), then the request goes to its server.
func (r *router) generate(w http.ResponseWriter, req *http.Request) {
	name, body, err := modelName(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "invalid_request_error")
		return
	}
	r.forward(w, req, name, body)
}

// forward passes a request to the server of model name, loading it first
// when autoload is on.
func (r *router) forward(w http.ResponseWriter, req *http.Request, name string, body []byte) {
	if name == "" {
		writeError(w, http.StatusBadRequest, "model name is missing from the request", "invalid_request_error")
		return
	}
	port, err := r.ready(name, req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "invalid_request_error")
		return
	}
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	p := httputil.NewSingleHostReverseProxy(target)
	p.ErrorLog = log.New(io.Discard, "", 0)
	p.ServeHTTP(w, req)
}

// ready returns the port of name's server once it serves, loading it if
// need be.
func (r *router) ready(name string, req *http.Request) (int, error) {
	r.mu.Lock()
	r.scan()
	m := r.models[name]
	switch {
	case m == nil:
		r.mu.Unlock()
		return 0, fmt.Errorf("model '%s' not found", name)
	case !m.running() && r.opts.noAutoload:
		r.mu.Unlock()
		return 0, errors.New("model is not loaded")
	case !m.running():
		r.start(m)
	}
	r.useSeq++
	m.lastUse = r.useSeq
	r.mu.Unlock()
	for {
		r.mu.Lock()
		state, port, failed := m.state, m.port, m.failed
		r.mu.Unlock()
		switch {
		case state == stateLoaded || state == stateSleeping:
			return port, nil
		case state == stateUnloaded && failed:
			return 0, fmt.Errorf("model '%s' failed to load", name)
		case state == stateUnloaded:
			return 0, fmt.Errorf("model '%s' was unloaded", name)
		}
		select {
		case <-req.Context().Done():
			return 0, req.Context().Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// freePort finds a port nobody listens on, for a model server.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
