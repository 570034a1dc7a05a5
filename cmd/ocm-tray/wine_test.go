//go:build linux && amd64

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

// The Windows build, run under Wine: the agent and its CLI talk over the
// named pipe, the child lives in a job object, and nothing survives the
// agent, however it ends. Wine's own processes are the prefix's business:
// the test ends them (wineserver -k) and checks that none is left.

const (
	// Debian's wine64 keeps its loader and server outside PATH.
	wineLoader = "/usr/lib/wine/wine64"
	wineServer = "/usr/lib/wine/wineserver"
	// wineWait bounds each wait: Wine starts a process in tenths of a second
	// on an idle machine, seconds on a loaded one.
	wineWait = 60 * time.Second
)

// wineEnv is one private Wine prefix with the Windows builds in it.
type wineEnv struct {
	t                   *testing.T
	dir, prefix         string
	vars                []string
	agent, fake, probe  string // Linux paths of the .exe files
	settings, model     string
	fakePIDFile, logDir string
	port                int
	n                   int // numbers the output files
}

// winPath is p as a Windows program under Wine sees it (drive Z: is /).
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }

func newWine(t *testing.T) *wineEnv {
	t.Helper()
	testenv.Need(t, wineLoader, wineServer, "x86_64-w64-mingw32-gcc")
	// Removed last, after every process of the prefix is gone: its
	// cleanup is registered first.
	dir := testenv.ShortTempDir(t)
	w := &wineEnv{t: t, dir: dir, prefix: filepath.Join(dir, "prefix"), port: testenv.FreePort(t)}
	w.vars = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "USER=ocm",
		"WINEPREFIX=" + w.prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=winemenubuilder.exe=d",
	}
	t.Cleanup(w.shutdown)

	start := time.Now()
	w.run("prefix", "bash", "../../packaging/wine/prefix.sh", w.prefix)
	t.Logf("wine prefix ready in %v", time.Since(start).Round(time.Millisecond))

	bin := filepath.Join(dir, "bin")
	w.agent = filepath.Join(bin, "ocm-tray.exe")
	w.fake = filepath.Join(bin, "llama-server.exe")
	w.probe = filepath.Join(bin, "ctrlbreak.exe")
	for out, pkg := range map[string]string{w.agent: ".", w.fake: "../../internal/fakellama/fake-llama-server", w.probe: "./testdata/ctrlbreak"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("GOOS=windows go build %s: %v\n%s", pkg, err, msg)
		}
	}

	w.model = filepath.Join(dir, "models", "tiny.gguf")
	if err := os.Mkdir(filepath.Dir(w.model), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fakellama.WriteModel(w.model); err != nil {
		t.Fatal(err)
	}
	w.fakePIDFile = filepath.Join(dir, "fake.pid")
	w.settings = filepath.Join(dir, "settings.toml")
	body := fmt.Sprintf(`backend = "llamacpp"
model_id = "tiny"
models_dir = '%s'
inference_base_url = "http://127.0.0.1:%d"
llama_server_binary = '%s'
[supervisor]
max_restarts = 1
initial_backoff = "10ms"
max_backoff = "50ms"
health_check_interval = "200ms"
health_check_timeout = "2s"
stop_timeout = "5s"
`, winPath(filepath.Dir(w.model)), w.port, winPath(w.fake))
	if err := os.WriteFile(w.settings, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// command is a Wine command whose output goes to files: Wine's helper
// processes inherit the caller's descriptors and outlive the program, so a
// pipe would stay open and the caller would wait for them.
func (w *wineEnv) command(name string, args ...string) (cmd *exec.Cmd, stdout, stderr string) {
	w.n++
	stdout = filepath.Join(w.dir, fmt.Sprintf("%02d-%s.out", w.n, name))
	stderr = filepath.Join(w.dir, fmt.Sprintf("%02d-%s.err", w.n, name))
	cmd = exec.Command(args[0], args[1:]...)
	cmd.Env = append(w.vars, fakellama.EnvPidfile+"="+winPath(w.fakePIDFile))
	var err error
	if cmd.Stdout, err = os.Create(stdout); err != nil {
		w.t.Fatal(err)
	}
	if cmd.Stderr, err = os.Create(stderr); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { cmd.Stdout.(*os.File).Close(); cmd.Stderr.(*os.File).Close() })
	return cmd, stdout, stderr
}

// run runs a command to its end and fails the test if it fails.
func (w *wineEnv) run(name string, args ...string) {
	w.t.Helper()
	cmd, out, errf := w.command(name, args...)
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("%v: %v\n%s%s", args, err, readFile(out), readFile(errf))
	}
}

// cli runs `wine ocm-tray.exe ARGS` and returns stdout, stderr, exit code.
func (w *wineEnv) cli(args ...string) (string, string, int) {
	w.t.Helper()
	cmd, out, errf := w.command("cli-"+args[0], append([]string{wineLoader, w.agent}, args...)...)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("wine ocm-tray.exe %v: %v", args, err)
	}
	return readFile(out), readFile(errf), code
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func (w *wineEnv) status() map[string]any {
	w.t.Helper()
	return statusVia(w.t, w.cli)
}

func (w *wineEnv) waitState(state string) map[string]any {
	w.t.Helper()
	return waitStateVia(state, w.poll, w.status)
}

func (w *wineEnv) poll(what string, ok func() bool) {
	w.t.Helper()
	if !testenv.Poll(wineWait, ok) {
		w.t.Fatalf("waited %v for %s; agent log:\n%s", wineWait, what, w.agentLog())
	}
}

func (w *wineEnv) do(cmd string) {
	w.t.Helper()
	if _, errOut, code := w.cli(cmd); code != 0 {
		w.t.Fatalf("%s: exit %d: %s", cmd, code, errOut)
	}
}

// logFile is one of the agent's files in the prefix's local application
// data folder (the user's name in it is Wine's choice).
func (w *wineEnv) logFile(name string) string {
	m, _ := filepath.Glob(filepath.Join(w.prefix, "drive_c", "users", "*", "AppData", "Local", "ocm", name))
	if len(m) == 0 {
		return ""
	}
	return readFile(m[0])
}

func (w *wineEnv) agentLog() string { return w.logFile("ocm-tray.log") }

// fakePID is the Windows pid the fake wrote when it started listening.
func (w *wineEnv) fakePID() int {
	pid, _ := strconv.Atoi(strings.TrimSpace(readFile(w.fakePIDFile)))
	return pid
}

// prefixProcs lists the live Linux processes of this prefix whose command
// line contains match ("" for all): Wine gives each Windows process a Linux
// process of its own.
func (w *wineEnv) prefixProcs(match string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !testproc.Alive(pid) {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, []byte("\x00WINEPREFIX="+w.prefix+"\x00")) && !bytes.HasPrefix(env, []byte("WINEPREFIX="+w.prefix+"\x00")) {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		line := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		if strings.Contains(line, match) {
			found = append(found, e.Name()+" "+line)
		}
	}
	return found
}

func (w *wineEnv) noFake(when string) {
	w.t.Helper()
	w.poll("no llama-server.exe "+when, func() bool { return len(w.prefixProcs("llama-server.exe")) == 0 })
}

// startAgent starts `wine ocm-tray.exe --headless` and returns once its
// CLI reaches it; the test's end stops it if the test did not end it.
func (w *wineEnv) startAgent() *testproc.Proc {
	w.t.Helper()
	cmd, _, _ := w.command("agent", wineLoader, w.agent, "--headless", "--config", winPath(w.settings))
	a := testproc.Start(w.t, cmd)
	w.poll("the agent answering", func() bool {
		_, _, code := w.cli("status")
		return code == 0
	})
	return a
}

// shutdown ends every process of the prefix and checks that none is left.
func (w *wineEnv) shutdown() {
	if _, err := os.Stat(w.prefix); err != nil {
		return
	}
	cmd, _, _ := w.command("wineserver-k", wineServer, "-k")
	cmd.Run()
	if !testenv.Poll(wineWait, func() bool { return len(w.prefixProcs("")) == 0 }) {
		w.t.Errorf("wine processes left behind: %v", w.prefixProcs(""))
	}
}

func TestWindowsBuildUnderWine(t *testing.T) {
	began := time.Now()
	w := newWine(t)

	// Nobody listens on the pipe yet.
	if _, errOut, code := w.cli("status"); code != 3 || !strings.Contains(errOut, "no agent is running") {
		t.Fatalf("status without an agent: exit %d, %q", code, errOut)
	}

	a := w.startAgent()
	st := w.waitState("running")
	if pid := pidOf(st); pid == 0 || pid != w.fakePID() {
		t.Fatalf("running with pid %d; the fake says it is %d", pid, w.fakePID())
	}
	if out, _, code := w.cli("status"); code != 0 || !strings.Contains(out, fmt.Sprintf("running (pid %d", pidOf(st))) {
		t.Fatalf("status: exit %d, %q", code, out)
	}
	// A second agent finds the lock taken and leaves the first alone.
	if _, errOut, code := w.cli("--headless", "--config", winPath(w.settings)); code != 0 || !strings.Contains(errOut, "already running") {
		t.Fatalf("second agent: exit %d, %q", code, errOut)
	}

	// stop: CTRL_BREAK to the child's group, else its job is terminated.
	w.do("stop")
	w.waitState("stopped")
	w.noFake("after stop")
	if !strings.Contains(w.logFile("llama-server.log"), "cleaning up before exit") {
		// The child never saw CTRL_BREAK. That is ours to fix unless this
		// Windows cannot deliver it at all, which the probe tells.
		cmd, out, _ := w.command("ctrlbreak", wineLoader, w.probe, winPath(w.fake), "--host", "127.0.0.1", "--port", "0", "-m", winPath(w.model))
		cmd.Env = w.vars
		cmd.Run()
		if probe := strings.TrimSpace(readFile(out)); probe == "ctrlbreak: ok" {
			t.Errorf("stop did not reach llama-server by CTRL_BREAK, though this system delivers it; agent log:\n%s", w.agentLog())
		} else {
			t.Logf("graceful stop not checked: this Wine cannot send CTRL_BREAK to a child's process group (%s); the agent terminated the job instead", probe)
			if !strings.Contains(w.agentLog(), "terminating its job instead") {
				t.Errorf("the agent log does not say it terminated the job:\n%s", w.agentLog())
			}
		}
	}

	w.do("start")
	first := pidOf(w.waitState("running"))
	w.do("restart")
	var second int
	w.poll("a new child after restart", func() bool {
		st := w.status()
		second = pidOf(st)
		return st["state"] == "running" && second != first
	})
	if second != w.fakePID() {
		t.Fatalf("running with pid %d after restart; the fake says %d", second, w.fakePID())
	}

	// A model of an architecture this build does not know (the spawn-gate
	// lets it through): no retry fixes that, so the agent gives up at
	// once, saying why.
	if err := fakellama.WriteBrokenModel(w.model); err != nil {
		t.Fatal(err)
	}
	w.do("restart")
	st = w.waitState("failed_after_max_restarts")
	if le, _ := st["last_error"].(string); !strings.Contains(le, "unknown model architecture") {
		t.Errorf("last_error %q does not say why", le)
	}
	w.noFake("after the crash loop")
	if err := fakellama.WriteModel(w.model); err != nil {
		t.Fatal(err)
	}
	w.do("start")
	w.waitState("running")

	// quit returns once the child is reaped; the agent exits 0.
	w.do("quit")
	if err := a.Wait(t); err != nil {
		t.Fatalf("agent after quit: %v\n%s", err, w.agentLog())
	}
	w.noFake("after quit")
	if _, _, code := w.cli("status"); code != 3 {
		t.Fatalf("status after quit: exit %d, want 3", code)
	}

	w.autostart()

	// Killed hard, the agent cannot stop its child: the job's kill-on-close
	// does, when the kernel (here wineserver) closes the agent's handles.
	a = w.startAgent()
	w.waitState("running")
	if err := a.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.Wait(t)
	w.noFake("after the agent was SIGKILLed")

	t.Logf("the Wine test took %v", time.Since(began).Round(time.Millisecond))
}

// autostart checks `autostart on | off | status` against the user's Run key,
// read back with Wine's reg.exe.
func (w *wineEnv) autostart() {
	w.t.Helper()
	const runKey = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
	const approved = `HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
	reg := func(args ...string) (string, int) {
		cmd, out, _ := w.command("reg", append([]string{wineLoader, "reg"}, args...)...)
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return readFile(out), ee.ExitCode()
		} else if err != nil {
			w.t.Fatalf("wine reg %v: %v", args, err)
		}
		return readFile(out), 0
	}
	status := func(want string) {
		w.t.Helper()
		if out, errOut, code := w.cli("autostart", "status"); code != 0 || !strings.HasPrefix(out, want) {
			w.t.Fatalf("autostart status: exit %d, %q %q; want %q", code, out, errOut, want)
		}
	}
	status("autostart: off")
	if out, errOut, code := w.cli("autostart", "on"); code != 0 || out != "autostart: on (wrote "+runKey+"\\ocm-tray)\n" {
		w.t.Fatalf("autostart on: exit %d, %q %q", code, out, errOut)
	}
	if out, code := reg("query", runKey, "/v", "ocm-tray"); code != 0 || !strings.Contains(out, `"`+winPath(w.agent)+`"`) {
		w.t.Fatalf("reg query after autostart on: exit %d\n%s", code, out)
	}
	status("autostart: on")
	// Task Manager's Startup tab switches an entry off with this mark;
	// `autostart on` switches it on again.
	if out, code := reg("add", approved, "/v", "ocm-tray", "/t", "REG_BINARY", "/d", "030000000000000000000000", "/f"); code != 0 {
		w.t.Fatalf("reg add: exit %d\n%s", code, out)
	}
	status("autostart: off")
	w.cli("autostart", "on")
	status("autostart: on")
	if out, _, code := w.cli("autostart", "off"); code != 0 || !strings.HasPrefix(out, "autostart: off (removed ") {
		w.t.Fatalf("autostart off: exit %d, %q", code, out)
	}
	if out, code := reg("query", runKey, "/v", "ocm-tray"); code == 0 {
		w.t.Fatalf("the Run value is still there after autostart off:\n%s", out)
	}
	status("autostart: off")
}
