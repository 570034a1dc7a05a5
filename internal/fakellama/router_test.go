//go:build linux

package fakellama_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		env           []string
		router, sleep bool
	}{
		{name: "current build", router: true, sleep: true},
		{name: "without router mode", env: []string{fakellama.EnvNoRouter + "=1"}, sleep: true},
		{name: "old build", env: []string{fakellama.EnvNoRouter + "=1", fakellama.EnvNoSleep + "=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.env, "--help")
			wantExit(t, p, p.wait(), 0)
			out := p.Stdout.String()
			if !strings.Contains(out, "--port PORT") || strings.Contains(out, "--models-dir") != tc.router ||
				strings.Contains(out, "--models-max") != tc.router || strings.Contains(out, "--sleep-idle-seconds") != tc.sleep {
				t.Fatalf("help:\n%s", out)
			}
		})
	}
}

// routerModel is one entry of the router's GET /models.
type routerModel struct {
	ID     string `json:"id"`
	Status struct {
		Value    string   `json:"value"`
		Args     []string `json:"args"`
		Failed   bool     `json:"failed"`
		ExitCode int      `json:"exit_code"`
	} `json:"status"`
}

func routerModels(t *testing.T, port int) map[string]routerModel {
	t.Helper()
	code, body := mustGet(t, port, "/models", "")
	var v struct {
		Data []routerModel `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil {
		t.Fatalf("GET /models: %d %s (%v)", code, body, err)
	}
	m := map[string]routerModel{}
	for _, d := range v.Data {
		m[d.ID] = d
	}
	return m
}

func post(t *testing.T, port int, path, body string) (int, string) {
	t.Helper()
	resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d%s", port, path), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

func waitState(t *testing.T, port int, id, state string) routerModel {
	t.Helper()
	var m routerModel
	testenv.Eventually(t, id+" "+state, func() bool {
		m = routerModels(t, port)[id]
		return m.Status.Value == state
	})
	return m
}

// childPort is the port in a model's server command line.
func childPort(m routerModel) int {
	for i, a := range m.Status.Args {
		if a == "--port" && i+1 < len(m.Status.Args) {
			n, _ := strconv.Atoi(m.Status.Args[i+1])
			return n
		}
	}
	return 0
}

// groupOf is pid's process group.
func groupOf(t *testing.T, pid int) int {
	t.Helper()
	g, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestRouter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, id := range []string{"tiny", "other"} {
		if err := fakellama.WriteModel(filepath.Join(dir, id+".gguf")); err != nil {
			t.Fatal(err)
		}
	}
	if err := fakellama.WriteBrokenModel(filepath.Join(dir, "broken.gguf")); err != nil {
		t.Fatal(err)
	}
	fakellama.WriteModel(filepath.Join(dir, "mmproj-tiny.gguf"))
	port := testenv.FreePort(t)
	pidfile := filepath.Join(t.TempDir(), "pid")
	p := start(t, []string{"FAKE_LLAMA_LOAD=20ms", fakellama.EnvPidfile + "=" + pidfile, fakellama.EnvCleanExit + "=1"},
		"--models-dir", dir, "--models-max", "1", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "-c", "512")
	p.waitStderr("starting server in router mode. models will be automatically loaded on-demand")
	p.waitStderr(fmt.Sprintf("llama_server: listening on http://127.0.0.1:%d", port))

	if code, body := mustGet(t, port, "/health", ""); code != 200 {
		t.Fatalf("/health %d %s", code, body)
	}
	if _, body := mustGet(t, port, "/props", ""); !strings.Contains(body, `"role":"router"`) {
		t.Fatalf("/props %s", body)
	}
	if code, body := mustGet(t, port, "/metrics", ""); code != 400 || !strings.Contains(body, "model name is missing") {
		t.Fatalf("/metrics without a model: %d %s", code, body)
	}
	ms := routerModels(t, port)
	if len(ms) != 3 || ms["tiny"].Status.Value != "unloaded" || ms["broken"].Status.Value != "unloaded" {
		t.Fatalf("models %+v", ms)
	}

	// Load: loading, then loaded; the model server's output comes prefixed
	// out of the router's stderr, and it is in the router's process group.
	if code, body := post(t, port, "/models/load", `{"model":"tiny"}`); code != 200 || body != `{"success":true}` {
		t.Fatalf("load: %d %s", code, body)
	}
	tiny := waitState(t, port, "tiny", "loaded")
	cport := childPort(tiny)
	p.waitStderr(fmt.Sprintf("[%d] %s", cport, fakellama.MarkerLoaded))
	if !strings.Contains(strings.Join(tiny.Status.Args, " "), "--alias tiny --model "+filepath.Join(dir, "tiny.gguf")+" --ctx-size 512") {
		t.Fatalf("args %q", tiny.Status.Args)
	}
	if code, body := post(t, port, "/models/load", `{"model":"tiny"}`); code != 400 || !strings.Contains(body, "already running") {
		t.Fatalf("second load: %d %s", code, body)
	}
	if code, _ := post(t, port, "/models/load", `{"model":"nope"}`); code != 404 {
		t.Fatalf("load of an unknown model: %d", code)
	}
	if code, body := mustGet(t, cport, "/health", ""); code != 200 {
		t.Fatalf("model server /health %d %s", code, body)
	}
	routerPid, _ := strconv.Atoi(strings.TrimSpace(string(mustReadFile(t, pidfile))))
	childPid := pidListening(t, cport)
	if groupOf(t, childPid) != groupOf(t, routerPid) {
		t.Fatalf("the model server (pid %d) is not in the router's process group", childPid)
	}

	// --models-max 1: loading another unloads the first, cleanly.
	post(t, port, "/models/load", `{"model":"other"}`)
	waitState(t, port, "other", "loaded")
	if m := waitState(t, port, "tiny", "unloaded"); m.Status.Failed {
		t.Fatalf("evicted model marked failed: %+v", m)
	}

	// A model that fails to load: unloaded, failed, with its exit code.
	post(t, port, "/models/load", `{"model":"broken"}`)
	var broken routerModel
	testenv.Eventually(t, "broken failed", func() bool { broken = routerModels(t, port)["broken"]; return broken.Status.Failed })
	if broken.Status.Value != "unloaded" || broken.Status.ExitCode != 134 {
		t.Fatalf("broken: %+v", broken)
	}
	p.waitStderr("unknown model architecture: 'nosucharch'")

	// A request naming a model loads it and is answered by it.
	code, body := post(t, port, "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`)
	if code != 200 || !strings.Contains(body, `"model":"tiny"`) {
		t.Fatalf("completion: %d %s", code, body)
	}
	if code, _ := post(t, port, "/models/unload", `{"model":"tiny"}`); code != 200 {
		t.Fatalf("unload: %d", code)
	}
	waitState(t, port, "tiny", "unloaded")
	if code, body := post(t, port, "/models/unload", `{"model":"tiny"}`); code != 400 || !strings.Contains(body, "not running") {
		t.Fatalf("unload of an unloaded model: %d %s", code, body)
	}

	// SIGTERM: the model servers are stopped first, then exit 0.
	post(t, port, "/models/load", `{"model":"other"}`)
	other := waitState(t, port, "other", "loaded")
	otherPid := pidListening(t, childPort(other))
	p.signal(syscall.SIGTERM)
	wantExit(t, p, p.wait(), 0)
	if testproc.Alive(otherPid) {
		t.Fatal("a model server outlived its router")
	}
}

// TestRouterKilled: a model server whose router dies sees its stdin end
// and exits.
func TestRouterKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fakellama.WriteModel(filepath.Join(dir, "tiny.gguf"))
	port := testenv.FreePort(t)
	p := start(t, nil, "--models-dir", dir, "--port", strconv.Itoa(port))
	p.waitStderr("llama_server: listening on")
	post(t, port, "/models/load", `{"model":"tiny"}`)
	pid := pidListening(t, childPort(waitState(t, port, "tiny", "loaded")))
	p.signal(syscall.SIGKILL)
	p.wait()
	testenv.Eventually(t, "the orphaned model server to exit", func() bool { return !testproc.Alive(pid) })
}

func TestSleep(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	p, port := ready(t, nil, "--sleep-idle-seconds", "1")
	sleeping := func() bool {
		_, body := mustGet(t, port, "/props", "")
		return strings.Contains(body, `"is_sleeping":true`)
	}
	// Awake for idle after a request. Judged only when this check came
	// within idle of the request: a loaded machine may take longer.
	before := time.Now()
	if code, _ := post(t, port, "/completion", `{"prompt":"hi"}`); code != 200 {
		t.Fatalf("completion: %d", code)
	}
	if asleep := sleeping(); asleep && time.Since(before) < idle {
		t.Fatalf("asleep within %v of a request", time.Since(before))
	}
	testenv.Eventually(t, "is_sleeping", sleeping)
	p.waitStderr("handle_sleep: server is entering sleeping state")
	if code, _ := mustGet(t, port, "/health", ""); code != 200 || !sleeping() {
		t.Fatal("/health woke it or failed")
	}
	if code, _ := post(t, port, "/completion", `{"prompt":"hi"}`); code != 200 {
		t.Fatalf("completion: %d", code)
	}
	if sleeping() {
		t.Fatal("a completion did not wake it")
	}
	p.waitStderr("handle_sleep: server is exiting sleeping state")
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	var b []byte
	testenv.Eventually(t, p, func() bool {
		var err error
		b, err = os.ReadFile(p)
		return err == nil && len(b) > 0
	})
	return b
}

var inodeRE = regexp.MustCompile(`^\s*\d+: [0-9A-F]+:([0-9A-F]{4}) [0-9A-F]+:[0-9A-F]{4} 0A (?:\S+\s+){5}(\d+)`)

// pidListening finds the process listening on a local TCP port, through
// /proc: the socket's inode in /proc/net/tcp, then the process holding it.
func pidListening(t *testing.T, port int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip("no /proc/net/tcp: " + err.Error())
	}
	inode := ""
	for _, line := range strings.Split(string(data), "\n") {
		if m := inodeRE.FindStringSubmatch(line); m != nil {
			if p, _ := strconv.ParseInt(m[1], 16, 32); int(p) == port {
				inode = m[2]
			}
		}
	}
	if inode == "" {
		t.Fatalf("nobody listens on port %d", port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if target, err := os.Readlink(fd); err == nil && target == "socket:["+inode+"]" {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	t.Fatalf("no process holds the socket of port %d", port)
	return 0
}
