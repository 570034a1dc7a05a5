//go:build unix

package fakellama_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fakellamatest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

// proc is a fake llama-server child; the test's end stops and reaps it.
type proc struct {
	*testproc.Proc
	t *testing.T
}

// start runs the test binary as a fake llama-server with extra env knobs.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	path, base := fakellamatest.HelperCommand()
	cmd := exec.Command(path, args...)
	cmd.Env = append(base, env...)
	return &proc{Proc: testproc.Start(t, cmd), t: t}
}

var portRE = regexp.MustCompile(regexp.QuoteMeta(fakellama.MarkerListening) + `, hostname: [^,]*, port: (\d+)`)

// port waits for the listening marker and returns the bound port.
func (p *proc) port() int {
	p.t.Helper()
	return p.portFrom(portRE)
}

// portFrom waits for a line that re matches and returns the port its first
// group holds.
func (p *proc) portFrom(re *regexp.Regexp) int {
	p.t.Helper()
	var port int
	testenv.Eventually(p.t, "the listening marker", func() bool {
		if m := re.FindStringSubmatch(p.Stderr.String()); m != nil {
			port, _ = strconv.Atoi(m[1])
			return true
		}
		p.failIfExited("the listening marker")
		return false
	})
	return port
}

// waitStderr waits until stderr contains s.
func (p *proc) waitStderr(s string) {
	p.t.Helper()
	testenv.Eventually(p.t, fmt.Sprintf("stderr %q", s), func() bool {
		if strings.Contains(p.Stderr.String(), s) {
			return true
		}
		p.failIfExited(fmt.Sprintf("stderr %q", s))
		return false
	})
}

func (p *proc) failIfExited(what string) {
	p.t.Helper()
	if p.Exited() {
		p.t.Fatalf("child exited (%v) before %s; stderr:\n%s", p.Cmd.ProcessState, what, p.Stderr)
	}
}

// wait waits for the child to exit and returns its wait status.
func (p *proc) wait() syscall.WaitStatus {
	p.t.Helper()
	p.Wait(p.t)
	return p.Cmd.ProcessState.Sys().(syscall.WaitStatus)
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	p.Signal(p.t, sig)
}

// loadGate is a FAKE_LLAMA_LOAD_UNTIL knob and the function that ends the
// load: the child answers "Loading model" until the test calls it.
func loadGate(t *testing.T) (knob string, endLoad func()) {
	path := filepath.Join(t.TempDir(), "loaded")
	return fakellama.EnvLoadUntil + "=" + path, func() {
		t.Helper()
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func wantSignaled(t *testing.T, p *proc, ws syscall.WaitStatus, sig syscall.Signal) {
	t.Helper()
	if !ws.Signaled() || ws.Signal() != sig {
		t.Fatalf("wait status %v, want killed by %v; stderr:\n%s", p.Cmd.ProcessState, sig, p.Stderr)
	}
}

func wantExit(t *testing.T, p *proc, ws syscall.WaitStatus, code int) {
	t.Helper()
	if !ws.Exited() || ws.ExitStatus() != code {
		t.Fatalf("wait status %v, want exit %d; stderr:\n%s", p.Cmd.ProcessState, code, p.Stderr)
	}
}

// client bounds a request only against a hang: a loaded machine may take
// seconds to answer.
var client = &http.Client{Timeout: testenv.WaitLimit, Transport: &http.Transport{DisableKeepAlives: true}}

func get(port int, path, key string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		return 0, "", err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func mustGet(t *testing.T, port int, path, key string) (int, string) {
	t.Helper()
	code, body, err := get(port, path, key)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return code, body
}

// model writes a valid fake model into a temp dir.
func model(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := fakellama.WriteModel(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// ready starts a fake on a free port and waits until /health is 200.
func ready(t *testing.T, env []string, args ...string) (*proc, int) {
	t.Helper()
	p := start(t, env, append([]string{"-m", model(t), "--port", "0"}, args...)...)
	port := p.port()
	p.waitStderr(fakellama.MarkerReady)
	return p, port
}

const loadingBody = `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`

func TestUnknownFlag(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "-m", "x.gguf", "--bogus")
	wantExit(t, p, p.wait(), 1)
	if !strings.Contains(p.Stderr.String(), "error: invalid argument: --bogus") {
		t.Fatalf("stderr: %q", p.Stderr.String())
	}
	if p.Stdout.String() != "" {
		t.Fatalf("stdout not empty: %q", p.Stdout.String())
	}
}

func TestBadKnob(t *testing.T) {
	t.Parallel()
	p := start(t, []string{fakellama.EnvLoad + "=300"}, "--port", "0")
	wantExit(t, p, p.wait(), 2)
	if !strings.Contains(p.Stderr.String(), fakellama.EnvLoad) {
		t.Fatalf("stderr: %q", p.Stderr.String())
	}
}

func TestLoadingThenReady(t *testing.T) {
	t.Parallel()
	gate, endLoad := loadGate(t)
	p := start(t, []string{gate}, "-m", model(t), "--port", "0")
	port := p.port()

	for _, path := range []string{"/health", "/v1/models", "/v1/chat/completions", "/no/such/path"} {
		code, body := mustGet(t, port, path, "")
		if code != http.StatusServiceUnavailable || body != loadingBody {
			t.Fatalf("GET %s while loading: %d %s", path, code, body)
		}
	}
	// The gate, not a clock, ends the load: still loading well past the
	// default load window.
	testenv.Poll(300*time.Millisecond, func() bool {
		if code, body := mustGet(t, port, "/health", ""); code != http.StatusServiceUnavailable || body != loadingBody {
			t.Fatalf("GET /health with the load gate shut: %d %s", code, body)
		}
		return false
	})
	endLoad()
	testenv.Eventually(t, "/health 200", func() bool {
		code, body, err := get(port, "/health", "")
		if err != nil {
			t.Fatal(err)
		}
		if code == http.StatusOK {
			if body != `{"status":"ok"}` {
				t.Fatalf("body %q", body)
			}
			return true
		}
		if code != http.StatusServiceUnavailable || body != loadingBody {
			t.Fatalf("GET /health: %d %s", code, body)
		}
		return false
	})
	for _, path := range []string{"/v1/models", "/models"} {
		if code, body := mustGet(t, port, path, ""); code != http.StatusOK || !strings.Contains(body, `"object":"list"`) {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}

	// The markers come out in order, the ready one with host and port.
	p.waitStderr(fakellama.MarkerReady)
	errText := p.Stderr.String()
	markers := []string{
		fmt.Sprintf("%s, hostname: 127.0.0.1, port: %d, http threads: ", fakellama.MarkerListening, port),
		fakellama.MarkerLoaded + "\n",
		fmt.Sprintf("main: server is listening on http://127.0.0.1:%d - starting the main loop\n", port),
	}
	last := -1
	for _, m := range markers {
		i := strings.Index(errText, m)
		if i <= last {
			t.Fatalf("marker %q missing or out of order in:\n%s", m, errText)
		}
		last = i
	}
	p.signal(syscall.SIGKILL)
	p.wait()
	if p.Stdout.String() != "" {
		t.Fatalf("stdout not empty: %q", p.Stdout.String())
	}
}

func TestReadyLineMeansHealthy(t *testing.T) {
	t.Parallel()
	p := start(t, []string{fakellama.EnvLoad + "=100ms"}, "-m", model(t), "--port", "0")
	port := p.port()
	p.waitStderr(fakellama.MarkerReady)
	if code, body := mustGet(t, port, "/health", ""); code != http.StatusOK {
		t.Fatalf("/health right after the ready line: %d %s", code, body)
	}
}

func TestStartDelayRefuses(t *testing.T) {
	t.Parallel()
	port := testenv.FreePort(t)
	p := start(t, []string{fakellama.EnvStartDelay + "=1s"}, "-m", model(t), "--port", strconv.Itoa(port))
	started := time.Now()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		c.Close()
		if time.Since(started) < 800*time.Millisecond {
			t.Fatal("connected during FAKE_LLAMA_START_DELAY")
		}
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial during start delay: %v, want connection refused", err)
	}
	if got := p.port(); got != port {
		t.Fatalf("listening on %d, want %d", got, port)
	}
	p.waitStderr(fakellama.MarkerReady)
}

func TestSignalAfterReadyAborts(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			p, _ := ready(t, nil)
			p.signal(sig)
			wantSignaled(t, p, p.wait(), syscall.SIGABRT)
			if !strings.Contains(p.Stderr.String(), "terminate called without an active exception") {
				t.Fatalf("stderr:\n%s", p.Stderr.String())
			}
		})
	}
}

func TestCleanExitKnob(t *testing.T) {
	t.Parallel()
	p, _ := ready(t, []string{fakellama.EnvCleanExit + "=1"})
	p.signal(syscall.SIGTERM)
	wantExit(t, p, p.wait(), 0)
}

func TestSecondSignalExits1(t *testing.T) {
	t.Parallel()
	p, _ := ready(t, []string{fakellama.EnvShutdownDelay + "=1m"})
	p.signal(syscall.SIGTERM)
	p.waitStderr("cleaning up before exit")
	p.signal(syscall.SIGTERM)
	wantExit(t, p, p.wait(), 1)
	if !strings.Contains(p.Stderr.String(), "Received second interrupt, terminating immediately") {
		t.Fatalf("stderr:\n%s", p.Stderr.String())
	}
}

func TestSignalDuringLoadKills(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			p := start(t, []string{fakellama.EnvLoad + "=1m"}, "-m", model(t), "--port", "0")
			p.port()
			p.signal(sig)
			wantSignaled(t, p, p.wait(), sig)
		})
	}
}

func TestIgnoreSIGTERMNeedsSIGKILL(t *testing.T) {
	t.Parallel()
	p, port := ready(t, []string{fakellama.EnvIgnoreSIGTERM + "=1"})
	p.signal(syscall.SIGTERM)
	p.signal(syscall.SIGINT)
	// Observe (not synchronise): it must still be alive a while later.
	select {
	case <-p.Done():
		t.Fatalf("exited (%v) despite %s", p.Cmd.ProcessState, fakellama.EnvIgnoreSIGTERM)
	case <-time.After(300 * time.Millisecond):
	}
	if code, _ := mustGet(t, port, "/health", ""); code != http.StatusOK {
		t.Fatalf("/health %d after ignored SIGTERM", code)
	}
	p.signal(syscall.SIGKILL)
	wantSignaled(t, p, p.wait(), syscall.SIGKILL)
}

func TestBadModelAborts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.gguf")
	notGGUF := filepath.Join(dir, "text.gguf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notGGUF, []byte("this is not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
		loseLog          bool
	}{
		{"missing", filepath.Join(dir, "missing.gguf"), "failed to open GGUF file", false},
		{"empty", empty, "gguf_init_from_file_impl: invalid magic characters", false},
		{"not gguf", notGGUF, "gguf_init_from_file_impl: invalid magic characters", false},
		{"lost log lines", notGGUF, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gate, endLoad := loadGate(t)
			env := []string{gate}
			if tt.loseLog {
				env = append(env, fakellama.EnvLoseLog+"=1")
			}
			p := start(t, env, "-m", tt.path, "--port", "0")
			port := p.port()
			if code, body := mustGet(t, port, "/health", ""); code != http.StatusServiceUnavailable || body != loadingBody {
				t.Fatalf("/health before the crash: %d %s", code, body)
			}
			endLoad()
			wantSignaled(t, p, p.wait(), syscall.SIGABRT)
			errText := p.Stderr.String()
			if tt.loseLog {
				if strings.Contains(errText, "failed to load model") || strings.Contains(errText, "invalid magic") {
					t.Fatalf("%s=1 but the load errors are there:\n%s", fakellama.EnvLoseLog, errText)
				}
				return
			}
			if !strings.Contains(errText, tt.want) || !strings.Contains(errText, "failed to load model") {
				t.Fatalf("stderr lacks %q / failed to load model:\n%s", tt.want, errText)
			}
			if strings.Contains(errText, fakellama.MarkerLoaded) {
				t.Fatalf("bad model reported loaded:\n%s", errText)
			}
		})
	}
}

func TestBindFailure(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0") // ordinary: no SO_REUSEPORT
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	p := start(t, nil, "-m", model(t), "--port", strconv.Itoa(port))
	wantExit(t, p, p.wait(), 1)
	want := fmt.Sprintf("main: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: %d\n", port)
	if !strings.Contains(p.Stderr.String(), want) {
		t.Fatalf("stderr lacks %q:\n%s", want, p.Stderr.String())
	}
}

func TestTwoFakesShareAPort(t *testing.T) {
	t.Parallel()
	a, port := ready(t, nil)
	b := start(t, nil, "-m", model(t), "--port", strconv.Itoa(port))
	if got := b.port(); got != port {
		t.Fatalf("second fake on %d, want %d", got, port)
	}
	b.waitStderr(fakellama.MarkerReady)
	a.failIfExited("the second fake was ready")
	if code, _ := mustGet(t, port, "/health", ""); code != http.StatusOK {
		t.Fatalf("/health %d", code)
	}
}

func TestCrashAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode   string
		exit   int
		signal syscall.Signal
	}{
		{"", 0, syscall.SIGABRT},
		{fakellama.CrashAbort, 0, syscall.SIGABRT},
		{fakellama.CrashExit1, 1, 0},
		{fakellama.CrashSegv, 0, syscall.SIGSEGV},
	}
	for _, tt := range tests {
		t.Run("mode="+tt.mode, func(t *testing.T) {
			t.Parallel()
			env := []string{fakellama.EnvCrashAfter + "=100ms"}
			if tt.mode != "" {
				env = append(env, fakellama.EnvCrashMode+"="+tt.mode)
			}
			p, _ := ready(t, env)
			ws := p.wait()
			if tt.signal != 0 {
				wantSignaled(t, p, ws, tt.signal)
			} else {
				wantExit(t, p, ws, tt.exit)
			}
		})
	}
}

func TestHangAfter(t *testing.T) {
	t.Parallel()
	p, port := ready(t, []string{fakellama.EnvHangAfter + "=100ms"})
	short := &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	testenv.Eventually(t, "/health to stop answering", func() bool {
		resp, err := short.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return true
			}
			t.Fatalf("GET /health: %v, want a timeout", err)
		}
		resp.Body.Close()
		return false
	})
	// Connections are still accepted.
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), testenv.WaitLimit)
	if err != nil {
		t.Fatalf("dial a hung fake: %v", err)
	}
	c.Close()
	p.failIfExited("checking the hang")
}

func TestUnhealthyAfter(t *testing.T) {
	t.Parallel()
	for _, status := range []int{0, 503} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			env := []string{fakellama.EnvUnhealthyAfter + "=100ms"}
			want := http.StatusInternalServerError
			if status != 0 {
				env = append(env, fmt.Sprintf("%s=%d", fakellama.EnvUnhealthyStatus, status))
				want = status
			}
			_, port := ready(t, env)
			testenv.Eventually(t, "/health to turn unhealthy", func() bool {
				code, _ := mustGet(t, port, "/health", "")
				if code != http.StatusOK && code != want {
					t.Fatalf("/health %d, want 200 then %d", code, want)
				}
				return code == want
			})
		})
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	gate, endLoad := loadGate(t)
	p := start(t, []string{gate}, "-m", model(t), "--port", "0", "--api-key", "sekrit")
	port := p.port()
	if code, body := mustGet(t, port, "/props", ""); code != http.StatusServiceUnavailable || body != loadingBody {
		t.Fatalf("/props while loading, no key: %d %s", code, body)
	}
	endLoad()
	p.waitStderr(fakellama.MarkerReady)
	for _, tt := range []struct {
		path, key string
		want      int
	}{
		{"/health", "", 200},
		{"/v1/models", "", 200},
		{"/models", "", 200},
		{"/props", "", 401},
		{"/props", "wrong", 401},
		{"/props", "sekrit", 200},
	} {
		if code, body := mustGet(t, port, tt.path, tt.key); code != tt.want {
			t.Errorf("GET %s key %q: %d %s, want %d", tt.path, tt.key, code, body, tt.want)
		}
	}
}

func TestEnvArgsAndFlagsWin(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	env := []string{
		"LLAMA_ARG_MODEL=" + model(t),
		"LLAMA_ARG_PORT=" + strconv.Itoa(held.Addr().(*net.TCPAddr).Port), // would fail to bind
		"LLAMA_ARG_HOST=127.0.0.1",
	}
	p := start(t, env, "--port=0") // the flag wins over LLAMA_ARG_PORT
	port := p.port()
	p.waitStderr(fakellama.MarkerReady)
	if code, _ := mustGet(t, port, "/health", ""); code != http.StatusOK {
		t.Fatalf("/health %d", code)
	}
}

func TestPidfileAndFlood(t *testing.T) {
	t.Parallel()
	pidfile := filepath.Join(t.TempDir(), "llama.pid")
	p, _ := ready(t, []string{fakellama.EnvPidfile + "=" + pidfile, fakellama.EnvStderrFlood + "=5000"})
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(p.Cmd.Process.Pid) {
		t.Fatalf("pidfile %q, want %d", got, p.Cmd.Process.Pid)
	}
	if n := strings.Count(p.Stderr.String(), "fake.flood.line"); n != 5000 {
		t.Fatalf("%d flood lines, want 5000", n)
	}
}
