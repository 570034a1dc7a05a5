package fakellama

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
	"github.com/OpenCircuitDev/ocm-tray/models"
)

// Stderr markers of the real server, for tests that wait on them.
const (
	// MarkerListening starts the line written once the port is bound, before
	// the model loads.
	MarkerListening = "main: HTTP server is listening"
	// MarkerLoaded is written when the model is loaded.
	MarkerLoaded = "main: model loaded"
	// MarkerReady ends the line written right after /health turns 200.
	MarkerReady = "starting the main loop"

	// MarkerListening2026 is in the line written once the port is bound
	// (current builds), followed like MarkerListening by ", hostname: H,
	// port: P".
	MarkerListening2026 = "srv         start: HTTP server is listening"
	// MarkerLoaded2026 and MarkerReady2026 are current builds' ready lines,
	// written right after /health turns 200, in this order.
	MarkerLoaded2026 = "srv  llama_server: model loaded"
	MarkerReady2026  = "srv  llama_server: listening on http://"
)

// WriteModel writes a tiny complete GGUF model at path that the fake
// loads (gguftest.Tiny: architecture llama, Q8_0). It is dated an hour
// back, a download finished long ago: the spawn-gate holds back a file
// modified within the last seconds.
func WriteModel(path string) error {
	if err := gguftest.Tiny().Write(path); err != nil {
		return fmt.Errorf("fakellama: write model: %w", err)
	}
	return nil
}

// UnknownArch is the architecture of WriteBrokenModel's file.
const UnknownArch = "nosucharch"

// WriteBrokenModel writes a complete GGUF model of an architecture no
// llama.cpp knows: it passes the spawn-gate, and the server fails to load
// it ("unknown model architecture"), as the real one does with a model
// newer than its build.
func WriteBrokenModel(path string) error {
	f := gguftest.Tiny()
	f.KV[0].Value = UnknownArch
	if err := f.Write(path); err != nil {
		return fmt.Errorf("fakellama: write model: %w", err)
	}
	return nil
}

// loadErrorMarker, followed by a LoadError value and a newline, at the end
// of a model file makes loading it fail that way: what a file decides for
// the real server (its size against the memory there is), the marker
// decides for the fake.
const loadErrorMarker = "ocm-fake-load-error="

// WriteFailingModel writes a model like WriteModel's that fails to load the
// way kind says (LoadErrorOOM), as if it were too big for the machine: a
// failure worth retrying, since memory may be free at the next try.
func WriteFailingModel(path, kind string) error {
	if err := WriteModel(path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("fakellama: write model: %w", err)
	}
	_, err = io.WriteString(f, loadErrorMarker+kind+"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fakellama: write model: %w", err)
	}
	// Dated back like WriteModel's: a download finished long ago, not a
	// file the spawn-gate would hold back as still being written.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		return fmt.Errorf("fakellama: write model: %w", err)
	}
	return nil
}

// Main is the whole fake llama-server: args is argv without argv[0], the
// environment holds the knobs (see the package doc). It returns the exit
// status for os.Exit, or never returns: it can kill its own process with a
// signal (SIGABRT, SIGSEGV, SIGTERM...), as the real server dies. It installs
// signal handlers, so call it only as a process's main.
func Main(args []string) int {
	lg := &logger{w: os.Stderr}
	k, err := readKnobs(os.Getenv)
	if err != nil {
		lg.printf("fake-llama-server: %v", err)
		return 2
	}
	opts, err := parseArgs(args, os.Getenv, k)
	if err != nil {
		lg.printf("%v", err)
		return 1
	}
	switch {
	case opts.help:
		printHelp(os.Stdout, k)
		return 0
	case opts.modelsDir != "" && !opts.modelGiven:
		return runRouter(opts, k, lg)
	}
	return run(opts, k, lg)
}

// logger writes whole lines to stderr, one write each, from any goroutine.
type logger struct {
	mu sync.Mutex
	w  io.Writer

	// Current builds: every line of logf starts with the elapsed time and
	// a level letter, coloured when colors is set.
	prefixed bool
	colors   bool
	start    time.Time
}

// printf writes a line as it is.
func (l *logger) printf(format string, a ...any) {
	line := fmt.Sprintf(format, a...) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line)
}

// ANSI colours of llama.cpp's log prefix.
const (
	colReset = "\x1b[0m"
	colBlue  = "\x1b[34m"
	colGreen = "\x1b[32m"
	colRed   = "\x1b[31m"
	colMag   = "\x1b[35m"
)

// logf writes a log line of a level (I, W, E). Early builds print it bare;
// current ones as "0.00.037.007 I srv  llama_server: model loaded", the
// elapsed time being minutes.seconds.milliseconds.microseconds.
func (l *logger) logf(level byte, format string, a ...any) {
	if !l.prefixed {
		l.printf(format, a...)
		return
	}
	us := time.Since(l.start).Microseconds()
	ts := fmt.Sprintf("%d.%02d.%03d.%03d", us/60e6, us/1e6%60, us/1000%1000, us%1000)
	msg := fmt.Sprintf(format, a...)
	if !l.colors {
		l.printf("%s %c %s", ts, level, msg)
		return
	}
	switch level {
	case 'I':
		l.printf("%s%s%s %sI %s%s", colBlue, ts, colReset, colGreen, colReset, msg)
	case 'W':
		l.printf("%s%s%s %sW %s%s", colBlue, ts, colReset, colMag, msg, colReset)
	default:
		l.printf("%s%s%s %sE %s%s", colBlue, ts, colReset, colRed, msg, colReset)
	}
}

// trapSignals delivers SIGTERM and SIGINT on the channel it returns, or
// ignores them (FAKE_LLAMA_IGNORE_SIGTERM); stop undoes it.
func trapSignals(k knobs) (sigs chan os.Signal, stop func()) {
	sigs = make(chan os.Signal, 4)
	if k.ignoreTerm {
		signal.Ignore(termSignals...)
		return sigs, func() {}
	}
	signal.Notify(sigs, termSignals...)
	return sigs, func() { signal.Stop(sigs) }
}

func run(opts options, k knobs, lg *logger) int {
	cur := k.era == Era2026
	lg.prefixed, lg.colors, lg.start = cur, k.colors, time.Now()
	sigs, stopSignals := trapSignals(k)
	defer stopSignals()

	if cur {
		lg.logf('I', "build_info: b6500-fake (fake-llama-server %s) for %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	} else {
		lg.printf("build: 4748 (c392e50) with fake-llama-server (%s) for %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	lg.logf('I', "system info: n_threads = %d, n_threads_batch = %d, total_threads = %d", runtime.NumCPU(), runtime.NumCPU(), runtime.NumCPU())

	// Until the model is loaded the real server has no signal handlers: a
	// signal kills it outright.
	if sig, ok := waitOrSignal(k.startDelay, sigs); ok {
		dieBySignal(sig)
	}

	ln, err := listen(opts.host, opts.port)
	if err != nil {
		if cur {
			lg.logf('E', "srv         start: couldn't bind HTTP server socket, hostname: %s, port: %d", opts.host, opts.port)
			lg.logf('E', "srv  llama_server: exiting due to HTTP server error")
		} else {
			lg.printf("main: couldn't bind HTTP server socket, hostname: %s, port: %d", opts.host, opts.port)
		}
		return 1
	}
	port := opts.port
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	if !writePidfile(k, lg) {
		_ = ln.Close()
		return 2
	}

	// A model server of a router tells it its state on stdout and takes
	// its commands on stdin.
	var routerCmds <-chan int
	var stdoutMu sync.Mutex
	state := func(string) {}
	if routerChild() {
		routerCmds = watchRouter(os.Stdin)
		state = func(s string) { reportState(os.Stdout, &stdoutMu, s) }
	}

	st := &serverState{}
	nSlots := opts.parallel
	if nSlots == 0 {
		nSlots = 1 // early builds; current ones default to 4
		if cur {
			nSlots = 4
		}
	}
	h := &handler{opts: opts, st: st, unhealthyStatus: k.unhealthyStatus, created: time.Now().Unix(),
		slots: newSlots(nSlots, k.generate, k.tps)}
	srv := &http.Server{
		Handler:  h,
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	threads := max(3, runtime.NumCPU()-1)
	if cur {
		lg.logf('I', "%s, hostname: %s, port: %d, http threads: %d", MarkerListening2026, opts.host, port, threads)
	} else {
		lg.printf("%s, hostname: %s, port: %d, http threads: %d", MarkerListening, opts.host, port, threads)
	}
	state(childLoading)
	if !cur {
		lg.printf("main: loading model")
	}
	lg.logf('I', "srv    load_model: loading model '%s'", opts.model)
	for i := range k.flood {
		lg.logf('I', "llama_model_loader: - kv %5d: fake.flood.line str = %s", i, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	}
	if sig, ok := waitLoad(k, sigs); ok {
		dieBySignal(sig)
	}
	if failure := loadModel(opts.model, k.loadError); failure != nil {
		return failLoad(lg, k, opts.model, failure)
	}

	if !cur {
		lg.printf("%s", MarkerLoaded)
	}
	if opts.sleepIdle > 0 {
		st.sleep.Store(newSleeper(time.Duration(opts.sleepIdle)*time.Second, func(sleeping bool) {
			if sleeping {
				lg.logf('I', "srv  handle_sleep: server is entering sleeping state")
				state(childSleeping)
			} else {
				lg.logf('I', "srv  handle_sleep: server is exiting sleeping state")
				state(childReady)
			}
		}))
		defer st.sleep.Load().stop()
	}
	st.ready.Store(true)
	if cur {
		lg.logf('I', "%s", MarkerLoaded2026)
		lg.logf('I', "%s%s:%d", MarkerReady2026, opts.host, port)
	} else {
		lg.printf("main: server is listening on http://%s:%d - %s", opts.host, port, MarkerReady)
	}
	state(childReady)

	return serve(k, lg, st, sigs, routerCmds, func() int { return shutdown(k, lg, sigs) })
}

// serve is the server's life once it serves: the crash, hang and
// unhealthy knobs fire on their clocks, a router's command (routerCmds;
// nil for none) ends it with the command's status, a signal through
// onSignal.
func serve(k knobs, lg *logger, st *serverState, sigs <-chan os.Signal, routerCmds <-chan int, onSignal func() int) int {
	crash, hang, unhealthy := after(k.crashAfter), after(k.hangAfter), after(k.unhealthyAfter)
	for {
		select {
		case <-crash:
			return crashNow(k, lg)
		case <-hang:
			hang = nil
			st.hung.Store(true)
		case <-unhealthy:
			unhealthy = nil
			st.unhealthy.Store(true)
		case code := <-routerCmds:
			if code == 0 {
				lg.printf("srv    operator(): exit command received, exiting...")
			} else {
				lg.printf("srv    operator(): EOF on stdin detected, forcing shutdown...")
			}
			return code
		case <-sigs:
			return onSignal()
		}
	}
}

// writePidfile writes the fake's pid where FAKE_LLAMA_PIDFILE says, if it
// does; false (said on stderr) when it cannot.
func writePidfile(k knobs, lg *logger) bool {
	if k.pidfile == "" {
		return true
	}
	if err := os.WriteFile(k.pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		lg.printf("fake-llama-server: %s: %v", EnvPidfile, err)
		return false
	}
	return true
}

// shutdown models the real server after its handlers are installed: clean
// up, then abort (build 4748) or exit 0 (newer builds, FAKE_LLAMA_CLEAN_EXIT);
// a second signal meanwhile exits 1 at once.
func shutdown(k knobs, lg *logger, sigs <-chan os.Signal) int {
	lg.logf('I', "srv    operator(): operator(): cleaning up before exit...")
	t := time.NewTimer(k.shutdownDelay)
	defer t.Stop()
	select {
	case <-sigs:
		lg.printf("Received second interrupt, terminating immediately.")
		return 1
	case <-t.C:
	}
	if k.cleanExit {
		return 0
	}
	abort(lg)
	return 134 // not reached
}

func crashNow(k knobs, lg *logger) int {
	if k.crashMode != CrashKill { // the OOM killer leaves no last words
		lg.printf("fake-llama-server: simulated crash (%s=%s)", EnvCrashMode, k.crashMode)
	}
	switch k.crashMode {
	case CrashExit1:
		return 1
	case CrashSegv:
		dieBySegv()
	case CrashKill:
		dieByKill()
	default:
		abort(lg)
	}
	return 1 // not reached
}

// abort prints what libstdc++'s std::terminate prints and dies by SIGABRT,
// as the real server does when it exits with its HTTP thread still joinable.
func abort(lg *logger) {
	lg.printf("terminate called without an active exception")
	dieByAbort()
}

// waitOrSignal waits d, or returns the first signal that arrives meanwhile.
func waitOrSignal(d time.Duration, sigs <-chan os.Signal) (os.Signal, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case sig := <-sigs:
		return sig, true
	case <-t.C:
		return nil, false
	}
}

// loadPoll is how often the load window looks for FAKE_LLAMA_LOAD_UNTIL's
// file.
const loadPoll = 5 * time.Millisecond

// waitLoad waits out the load window, or returns the first signal that
// arrives meanwhile. The window is FAKE_LLAMA_LOAD long, or with
// FAKE_LLAMA_LOAD_UNTIL lasts until that file exists: a test decides when
// loading ends, whatever the speed of the machine.
func waitLoad(k knobs, sigs <-chan os.Signal) (os.Signal, bool) {
	if k.loadUntil == "" {
		return waitOrSignal(k.load, sigs)
	}
	for {
		if _, err := os.Stat(k.loadUntil); err == nil {
			return nil, false
		}
		if sig, ok := waitOrSignal(loadPoll, sigs); ok {
			return sig, true
		}
	}
}

// after is time.After for a knob, nil (never) when the knob is off.
func after(d time.Duration) <-chan time.Time {
	if d == off {
		return nil
	}
	return time.After(d)
}

// errBadMagic is the real gguf loader's complaint about a file that does not
// start with "GGUF".
var errBadMagic = errors.New("gguf_init_from_file_impl: invalid magic characters")

// errUnknownArch is the real loader's complaint about a model of an
// architecture the build does not know.
var errUnknownArch = errors.New("llama_model_load: error loading model: unknown model architecture")

// checkModel does the checks the fake's loader makes: the file opens,
// starts with the GGUF magic and, when its header says, is of an
// architecture other than UnknownArch.
func checkModel(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("gguf_init_from_file: failed to open GGUF file '%s'", path)
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, []byte("GGUF")) {
		return fmt.Errorf("%w: '%s', expected 'GGUF'", errBadMagic, printable(magic))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("gguf_init_from_file: failed to read GGUF file '%s'", path)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("gguf_init_from_file: failed to read GGUF file '%s'", path)
	}
	if h, err := models.ReadHeader(f, fi.Size()); err == nil && h.Architecture == UnknownArch {
		return fmt.Errorf("%w: '%s'", errUnknownArch, h.Architecture)
	}
	return nil
}

// loadFailure is why loading a model failed.
type loadFailure struct {
	kind  string // "open", "magic", "arch", or a LoadError knob
	magic string // kind "magic": the file's first four bytes, printable
	arch  string // kind "arch": the architecture the build does not know
}

// loadModel checks the file the way the fake's loader does (checkModel),
// then fails the way the knob or the file's marker says, if either does.
func loadModel(path, knob string) *loadFailure {
	err := checkModel(path)
	switch {
	case errors.Is(err, errBadMagic):
		magic := make([]byte, 4)
		n := 0
		if f, err := os.Open(path); err == nil {
			n, _ = io.ReadFull(f, magic)
			f.Close()
		}
		return &loadFailure{kind: "magic", magic: printable(magic[:n])}
	case errors.Is(err, errUnknownArch):
		return &loadFailure{kind: "arch", arch: UnknownArch}
	case err != nil:
		return &loadFailure{kind: "open"}
	case knob != "":
		return &loadFailure{kind: knob, arch: UnknownArch}
	}
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			tail := make([]byte, 64)
			n, _ := f.ReadAt(tail, max(0, fi.Size()-int64(len(tail))))
			if i := bytes.LastIndex(tail[:n], []byte(loadErrorMarker)); i >= 0 {
				kind, _, _ := strings.Cut(string(tail[i+len(loadErrorMarker):n]), "\n")
				if kind == LoadErrorOOM {
					return &loadFailure{kind: kind}
				}
			}
		}
	}
	return nil
}

// failLoad writes what the server writes when loading fails, then ends as
// the era's build does: early builds abort, current ones exit 1.
func failLoad(lg *logger, k knobs, model string, f *loadFailure) int {
	cur := k.era == Era2026
	if !k.loseLog {
		var cause string
		switch f.kind {
		case "open":
			lg.logf('E', "gguf_init_from_file: failed to open GGUF file '%s' (No such file or directory)", model)
		case "magic":
			if cur {
				lg.logf('E', "gguf_init_from_reader: invalid magic characters: '%s', expected 'GGUF'", f.magic)
			} else {
				lg.printf("gguf_init_from_file_impl: invalid magic characters: '%s', expected 'GGUF'", f.magic)
			}
		case "arch":
			cause = "unknown model architecture: '" + f.arch + "'"
			if !cur {
				cause = "error loading model architecture: " + cause
			}
		case LoadErrorOOM:
			lg.logf('E', "ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 68719476736")
			cause = "unable to allocate CPU buffer"
		}
		if cause == "" {
			cause = "llama_model_loader: failed to load model from " + model
		}
		lg.logf('E', "llama_model_load: error loading model: %s", cause)
		if cur {
			lg.logf('E', "srv    load_model: failed to load model, '%s'", model)
			lg.logf('I', "srv    operator(): operator(): cleaning up before exit...")
			lg.logf('E', "srv  llama_server: exiting due to model loading error")
		} else {
			lg.printf("llama_model_load_from_file_impl: failed to load model")
			lg.printf("common_init_from_params: failed to load model '%s'", model)
			lg.printf("srv    load_model: failed to load model, '%s'", model)
			lg.printf("main: exiting due to model loading error")
		}
	}
	if cur {
		return 1
	}
	abort(lg)
	return 134 // not reached
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// listen binds host:port with SO_REUSEPORT where the OS has it, as
// cpp-httplib does.
func listen(host string, port int) (net.Listener, error) {
	lc := net.ListenConfig{Control: setReusePort}
	return lc.Listen(context.Background(), "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
}
