//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// These tests run the real ocm-tray binary, headless, against the fake
// llama-server binary, in temporary XDG directories, and check the CLI and
// JSON contract of docs/cli.md from the outside, as a script would.

// agentBin is the ocm-tray binary under test, race-built.
var agentBin string

func TestMain(m *testing.M) {
	var err error
	if agentBin, err = testproc.Build("ocm-tray", ".", "-race"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testproc.Cleanup()
	os.Exit(code)
}

// env is one user's world: XDG dirs, a model, a settings file.
type env struct {
	t        *testing.T
	root     string
	vars     []string
	settings string
	models   string
	port     int
	llama    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// A short root: the control socket path must fit in ~108 bytes.
	root := testenv.ShortTempDir(t)
	e := &env{t: t, root: root, llama: fakellamatest.Binary(t), port: testenv.FreePort(t)}
	dirs := map[string]string{}
	for _, d := range []string{"config", "data", "state", "run"} {
		dirs[d] = filepath.Join(root, d)
		os.MkdirAll(dirs[d], 0o700)
	}
	e.settings = filepath.Join(dirs["config"], "ocm", "settings.toml")
	e.models = filepath.Join(dirs["data"], "ocm", "models")
	os.MkdirAll(filepath.Dir(e.settings), 0o755)
	os.MkdirAll(e.models, 0o755)
	e.vars = []string{
		"HOME=" + root, "PATH=" + os.Getenv("PATH"),
		"XDG_CONFIG_HOME=" + dirs["config"], "XDG_DATA_HOME=" + dirs["data"],
		"XDG_STATE_HOME=" + dirs["state"], "XDG_RUNTIME_DIR=" + dirs["run"],
		"GORACE=atexit_sleep_ms=0",
	}
	return e
}

// writeSettings writes a llamacpp settings file plus extra lines, and the
// model file when withModel. The health checks are frequent, to keep the
// tests short, but only seconds without one good probe make a child
// unhealthy: a loaded machine must not restart a healthy one.
func (e *env) writeSettings(extra string, withModel bool) {
	e.t.Helper()
	if withModel {
		if err := fakellama.WriteModel(filepath.Join(e.models, "tiny.gguf")); err != nil {
			e.t.Fatal(err)
		}
	}
	body := fmt.Sprintf(`backend = "llamacpp"
model_id = "tiny"
inference_base_url = "http://127.0.0.1:%d"
llama_server_binary = %q
[supervisor]
initial_backoff = "10ms"
max_backoff = "50ms"
health_check_interval = "200ms"
health_check_timeout = "5s"
stop_timeout = "2s"
%s`, e.port, e.llama, extra)
	// Write and rename, as editors do.
	tmp := e.settings + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.settings); err != nil {
		e.t.Fatal(err)
	}
}

// cli runs one ocm-tray command and returns stdout, stderr and exit code.
func (e *env) cli(args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(agentBin, args...)
	cmd.Env = e.vars
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// agentProc is a running agent.
type agentProc = testproc.Proc

// startAgent runs a headless agent.
func (e *env) startAgent(args ...string) *agentProc {
	e.t.Helper()
	return e.startAgentWith(agentBin, e.vars, append([]string{"--headless"}, args...)...)
}

// startAgentWith runs the agent binary bin with the environment vars and
// returns once its CLI answers.
func (e *env) startAgentWith(bin string, vars []string, args ...string) *agentProc {
	e.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = vars
	a := e.launch(cmd)
	// Ready when the CLI reaches it.
	testenv.Eventually(e.t, "the agent answering", func() bool {
		_, _, code := e.cli("status", "--json")
		return code == 0
	})
	return a
}

// launch starts an agent command as it is set up; the test's end stops it
// (SIGTERM: the agent stops its child first) if the test did not.
func (e *env) launch(cmd *exec.Cmd) *agentProc {
	e.t.Helper()
	return testproc.Start(e.t, cmd)
}

// status returns the agent's status as a generic JSON object.
func (e *env) status() map[string]any {
	e.t.Helper()
	return statusVia(e.t, e.cli)
}

func (e *env) waitState(state string) map[string]any {
	e.t.Helper()
	return waitStateVia(state, func(what string, ok func() bool) { testenv.Eventually(e.t, what, ok) }, e.status)
}

// statusVia runs `status --json` through cli and parses what it printed.
func statusVia(t *testing.T, cli func(args ...string) (string, string, int)) map[string]any {
	t.Helper()
	out, errOut, code := cli("status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("status --json printed %q: %v", out, err)
	}
	return m
}

// waitStateVia polls status until the agent is in state, and returns that
// status.
func waitStateVia(state string, poll func(what string, ok func() bool), status func() map[string]any) map[string]any {
	var m map[string]any
	poll("state "+state, func() bool {
		m = status()
		return m["state"] == state
	})
	return m
}

func pidOf(m map[string]any) int {
	f, _ := m["pid"].(float64)
	return int(f)
}

func alive(pid int) bool { return testproc.Alive(pid) }

func TestVersionAndUsage(t *testing.T) {
	e := newEnv(t)
	out, _, code := e.cli("--version")
	if code != 0 || !strings.HasPrefix(out, "ocm-tray ") {
		t.Fatalf("--version: %q exit %d", out, code)
	}
	if _, errOut, code := e.cli("bogus"); code != 1 || !strings.Contains(errOut, `unknown command "bogus"`) {
		t.Fatalf("unknown command: exit %d, %q", code, errOut)
	}
}

func TestNoAgentExitsThree(t *testing.T) {
	e := newEnv(t)
	for _, c := range [][]string{{"status"}, {"status", "--json"}, {"status", "--watch"}, {"start"}, {"stop"}, {"restart"}, {"quit"}} {
		if _, errOut, code := e.cli(c...); code != 3 || !strings.Contains(errOut, "no agent is running") {
			t.Errorf("%v: exit %d, stderr %q", c, code, errOut)
		}
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	// No file at the default path: valid, defaults, nothing spawned.
	out, _, code := e.cli("check")
	if code != 0 || !strings.HasPrefix(out, "gate: refuse: ") {
		t.Fatalf("check without a file: exit %d\n%s", code, out)
	}
	e.writeSettings("", true)
	if out, _, code := e.cli("check"); code != 0 || out != "gate: spawn\n" {
		t.Fatalf("valid file: exit %d\n%s", code, out)
	}
	os.Remove(filepath.Join(e.models, "tiny.gguf"))
	if out, _, code := e.cli("check"); code != 0 || !strings.Contains(out, "gate: refuse: model file") {
		t.Fatalf("model missing: exit %d\n%s", code, out)
	}
	bad := filepath.Join(e.root, "bad.toml")
	os.WriteFile(bad, []byte("backend = \"llamacpp\"\nmodel_id = \"../../etc/passwd\"\n[supervisor]\ninitial_backoff = 500\n"), 0o644)
	before, _ := os.ReadFile(bad)
	out, _, code = e.cli("check", "--config", bad)
	if code != 1 {
		t.Fatalf("invalid file: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, bad+":4: supervisor.initial_backoff: ") {
		t.Fatalf("no file:line: key for the bare-number duration:\n%s", out)
	}
	after, _ := os.ReadFile(bad)
	if !bytes.Equal(before, after) {
		t.Fatal("check modified the settings file")
	}
	if _, _, code := e.cli("check", "--config", filepath.Join(e.root, "missing.toml")); code != 1 {
		t.Fatalf("missing explicit --config: exit %d", code)
	}
	// A named pipe is refused at once, not waited on for a writer.
	fifo := filepath.Join(e.root, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, code := e.cli("check", "--config", fifo); code != 1 || !strings.HasPrefix(out, fifo+": is a named pipe (FIFO), not a regular file; ") {
		t.Fatalf("check on a named pipe: exit %d\n%s", code, out)
	}
}

func TestAgentLifecycleOverTheCLI(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	a := e.startAgent()
	st := e.waitState("running")
	pid := pidOf(st)
	if pid == 0 || st["model"] != "tiny" || st["since"] == nil || !alive(pid) {
		t.Fatalf("running status %v", st)
	}
	// Exact JSON: the variant's fields, nothing else. The live view's
	// activity (memory moves) is checked apart.
	out, _, _ := e.cli("status", "--json")
	activity := regexp.MustCompile(`,"activity":\{"slots_busy":0,"slots_total":1,"rss_bytes":[1-9][0-9]*\}`)
	if !activity.MatchString(out) {
		t.Fatalf("status --json has no idle activity with memory: %s", out)
	}
	want := fmt.Sprintf(`{"state":"running","pid":%d,"model":"tiny","since":%q,"url":"http://127.0.0.1:%d"}`+"\n", pid, st["since"], e.port)
	if got := activity.ReplaceAllString(out, ""); got != want {
		t.Fatalf("status --json\n got %s\nwant %s", got, want)
	}
	if out, _, code := e.cli("status"); code != 0 || !strings.Contains(out, "running (pid "+strconv.Itoa(pid)) {
		t.Fatalf("status text: %q", out)
	}

	// A watcher sees every change from now on, in order.
	watchCmd := exec.Command(agentBin, "status", "--watch", "--json")
	watchCmd.Env = e.vars
	watch := testproc.Start(t, watchCmd)
	// Its first line says it subscribed: from here on it sees every change.
	testenv.Eventually(t, "the first line of status --watch", func() bool { return strings.Contains(watch.Stdout.String(), "\n") })

	if _, errOut, code := e.cli("stop"); code != 0 {
		t.Fatalf("stop: %d %s", code, errOut)
	}
	e.waitState("stopped")
	if alive(pid) {
		t.Fatal("child alive after stop")
	}
	e.cli("start")
	pid2 := pidOf(e.waitState("running"))
	e.cli("restart")
	var pid3 int
	testenv.Eventually(e.t, "a new child after restart", func() bool {
		m := e.status()
		pid3 = pidOf(m)
		return m["state"] == "running" && pid3 != pid2
	})
	if alive(pid2) {
		t.Fatal("old child alive after restart")
	}

	// quit returns only once the child is reaped.
	if _, errOut, code := e.cli("quit"); code != 0 {
		t.Fatalf("quit: %d %s", code, errOut)
	}
	if alive(pid3) {
		t.Fatal("quit returned while the child was still alive")
	}
	if err := a.Wait(t); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, a.Stderr)
	}
	if err := watch.Wait(t); err != nil {
		t.Fatalf("watch exit: %v", err)
	}
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(watch.Stdout.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("watch line %q: %v", l, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, m["at"].(string)); err != nil {
			t.Fatalf("watch line without RFC 3339 at: %q", l)
		}
		got = append(got, m)
	}
	// Every change of the status object is a line: the live view's
	// readings while running too. The states, each run of one counted once:
	var states []string
	for _, m := range got {
		if s := m["state"].(string); len(states) == 0 || states[len(states)-1] != s {
			states = append(states, s)
		}
	}
	wantStates := "running stopped starting running starting running stopped"
	if strings.Join(states, " ") != wantStates {
		t.Fatalf("watch states %v, want %s", states, wantStates)
	}
	if got[0]["at"] != got[0]["since"] {
		t.Fatalf("first watch line: at %v != since %v", got[0]["at"], got[0]["since"])
	}
	if _, _, code := e.cli("status"); code != 3 {
		t.Fatalf("status after quit: exit %d, want 3", code)
	}
}

func TestSignalsStopTheChildFirst(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			e := newEnv(t)
			e.writeSettings("", true)
			a := e.startAgent()
			pid := pidOf(e.waitState("running"))
			a.Cmd.Process.Signal(sig)
			if err := a.Wait(t); err != nil {
				t.Fatalf("agent exit after %v: %v\n%s", sig, err, a.Stderr)
			}
			if alive(pid) {
				t.Fatalf("child %d outlived the agent after %v", pid, sig)
			}
		})
	}
}

func TestSecondAgentSaysAlreadyRunning(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	a := e.startAgent()
	_, errOut, code := e.cli("--headless")
	want := fmt.Sprintf("already running (pid %d)", a.Cmd.Process.Pid)
	if code != 0 || !strings.Contains(errOut, want) {
		t.Fatalf("second agent: exit %d, stderr %q, want %q", code, errOut, want)
	}
	// The first is untouched.
	e.waitState("running")
}

func TestAgentSIGKILLTakesTheChildWithIt(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	a := e.startAgent()
	pid := pidOf(e.waitState("running"))
	killed := time.Now()
	a.Cmd.Process.Kill()
	a.Wait(t)
	testenv.Eventually(e.t, "the child to die with its agent", func() bool { return !alive(pid) })
	t.Logf("child gone %v after SIGKILL of the agent", time.Since(killed))
	// The next agent starts cleanly despite the stale socket and pid file.
	e.startAgent()
	e.waitState("running")
}

func TestInvalidSettingsAtStart(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("max_restarts = -1\n", true)
	before, _ := os.ReadFile(e.settings)
	e.startAgent()
	st := e.waitState("not_spawning")
	if se, _ := st["settings_error"].(string); !strings.Contains(se, "supervisor.max_restarts") {
		t.Fatalf("status %v", st)
	}
	after, _ := os.ReadFile(e.settings)
	if !bytes.Equal(before, after) {
		t.Fatal("the agent modified the settings file")
	}
	// Fixing the file starts the server without a restart of the agent.
	e.writeSettings("", true)
	st = e.waitState("running")
	if _, has := st["settings_error"]; has {
		t.Fatalf("settings_error not cleared: %v", st)
	}
}

func TestHotReload(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	e.startAgent()
	pid := pidOf(e.waitState("running"))

	// Garbage: the running child stays, settings_error says why.
	os.WriteFile(e.settings, []byte("backend = \"llamacpp\"\nthis is not toml ===\n"), 0o644)
	var st map[string]any
	testenv.Eventually(e.t, "settings_error", func() bool {
		st = e.status()
		_, has := st["settings_error"]
		return has
	})
	if st["state"] != "running" || pidOf(st) != pid || !alive(pid) {
		t.Fatalf("invalid edit touched the running server: %v", st)
	}
	// Fixed, same values: error cleared, same child.
	e.writeSettings("", true)
	testenv.Eventually(e.t, "settings_error cleared", func() bool {
		st = e.status()
		_, has := st["settings_error"]
		return !has
	})
	if pidOf(st) != pid {
		t.Fatalf("an unchanged setting restarted the server: %v", st)
	}
	// A change to the child's argv restarts it.
	body := strings.Replace(string(mustRead(t, e.settings)), `backend = "llamacpp"`, "backend = \"llamacpp\"\nctx_len = 2048", 1)
	os.WriteFile(e.settings, []byte(body), 0o644)
	testenv.Eventually(e.t, "a restart with the new ctx_len", func() bool {
		st = e.status()
		return st["state"] == "running" && pidOf(st) != pid
	})
	if alive(pid) {
		t.Fatal("old child alive after the restart")
	}
}

func TestModelArrivingLaterStartsTheServer(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", false)
	e.startAgent()
	st := e.waitState("not_spawning")
	if r, _ := st["reason"].(string); !strings.Contains(r, "tiny.gguf") || !strings.Contains(r, "not found") {
		t.Fatalf("reason %q", r)
	}
	// A finished download: written elsewhere, renamed into place.
	part := filepath.Join(e.models, "tiny.gguf.part")
	fakellama.WriteModel(part)
	os.Rename(part, filepath.Join(e.models, "tiny.gguf"))
	e.waitState("running")
}

func TestPortTakenThenFreed(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	other := testenv.Serve(t, "127.0.0.1:"+strconv.Itoa(e.port), testenv.HangUp)
	e.startAgent()
	st := e.waitState("not_spawning")
	if st["reason"] != fmt.Sprintf("port %d is already in use", e.port) {
		t.Fatalf("status %v", st)
	}
	other.Close()
	e.waitState("running")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// procStart is how the pid file records a process's start on Linux: its
// start time in clock ticks since boot (/proc/PID/stat, field 22).
func procStart(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[19]
}

// A llama-server left behind by an earlier agent is stopped with the
// stop_timeout of the settings (2s here), not the built-in 10 s.
func TestLeftoverStoppedWithConfiguredStopTimeout(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	stray := exec.Command(e.llama, "-m", filepath.Join(e.models, "tiny.gguf"), "--port", strconv.Itoa(testenv.FreePort(t)))
	stray.Env = append(os.Environ(), "FAKE_LLAMA_IGNORE_SIGTERM=1")
	stray.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	leftover := testproc.Start(t, stray)
	runDir := filepath.Join(e.root, "run", "ocm")
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	record := fmt.Sprintf("%d\n%s\n%s\n", stray.Process.Pid, e.llama, procStart(t, stray.Process.Pid))
	if err := os.WriteFile(filepath.Join(runDir, "llama-server.pid"), []byte(record), 0o600); err != nil {
		t.Fatal(err)
	}
	a := e.startAgent() // answers once the leftover is gone
	// Dead, if maybe not reaped yet by this test (its parent).
	if alive(leftover.Cmd.Process.Pid) {
		t.Fatalf("the leftover still runs once the agent answers:\n%s", a.Stderr)
	}
	if !strings.Contains(a.Stderr.String(), "stopped a leftover llama-server") || !strings.Contains(a.Stderr.String(), "stop_timeout=2s") {
		t.Fatalf("agent log:\n%s", a.Stderr)
	}
}
