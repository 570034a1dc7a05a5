//go:build linux

package supervisor

import (
	"context"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fakellamatest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

// These tests run the supervisor against real child processes: the test
// binary re-executed as the fake llama-server, which behaves like the real
// one (503 while loading, SIGABRT on SIGTERM, stderr-only logging).

func TestMain(m *testing.M) {
	testproc.RunChild(agentChild, agentHelper)
	os.Exit(m.Run())
}

// realConfig is a Config for the fake llama-server on a free port, with a
// valid model file, fast policy and a log in a temp dir. knobs are
// FAKE_LLAMA_* settings.
func realConfig(t *testing.T, knobs ...string) Config {
	t.Helper()
	dir := t.TempDir()
	model := filepath.Join(dir, "m.gguf")
	if err := fakellama.WriteModel(model); err != nil {
		t.Fatal(err)
	}
	path, env := fakellamatest.HelperCommand()
	port := testenv.FreePort(t)
	// Fast enough to keep the tests short, slow enough that a loaded
	// machine does not make a healthy child look hung: a probe may take
	// the whole interval, and only seconds without one good probe count.
	p := DefaultPolicy()
	p.InitialBackoff, p.MaxBackoff = 10*time.Millisecond, 20*time.Millisecond
	p.HealthCheckInterval, p.HealthCheckTimeout = 200*time.Millisecond, 3*time.Second
	p.StartupTimeout, p.StopTimeout = testenv.WaitLimit, 2*time.Second
	return Config{
		Command: &Command{
			Path: path,
			Args: []string{"-m", model, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "-c", "4096"},
			Env:  append(env, knobs...),
		},
		ProbeHost: "127.0.0.1", Port: port,
		Policy:  p,
		LogPath: filepath.Join(dir, "llama-server.log"),
		PIDFile: filepath.Join(dir, "llama-server.pid"),
		Model:   "m",
	}
}

// realRun starts Run in the background; the returned stop cancels it and
// waits until Run returned (the child reaped).
func realRun(t *testing.T, cfg Config, opts ...Option) (*Supervisor, *status.Subscription, func()) {
	t.Helper()
	sup := New(cfg, opts...)
	sub := sup.Subscribe(256)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { sup.Run(ctx); done <- nil }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return sup, sub, stop
}

// waitFor reads events until one matches, failing after testenv.WaitLimit.
func waitFor(t *testing.T, sub *status.Subscription, match func(status.Status) bool) status.Status {
	t.Helper()
	timer := time.NewTimer(testenv.WaitLimit)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed (%v) before the wanted status", sub.Err())
			}
			if match(ev.Status) {
				return ev.Status
			}
		case <-timer.C:
			t.Fatalf("no matching status within %v", testenv.WaitLimit)
		}
	}
}

func state(s status.State) func(status.Status) bool {
	return func(st status.Status) bool { return st.State == s }
}

func alive(pid int) bool { return processAlive(pid) }

func TestRealChildRunsAndStopsCleanly(t *testing.T) {
	cfg := realConfig(t)
	sup, sub, stop := realRun(t, cfg)
	st := waitFor(t, sub, state(status.Running))
	pid := st.PID
	if !alive(pid) {
		t.Fatalf("running pid %d is not alive", pid)
	}
	if b, err := os.ReadFile(cfg.PIDFile); err != nil || !strings.HasPrefix(string(b), strconv.Itoa(pid)+"\n") {
		t.Fatalf("pid file %q, %v", b, err)
	}
	sup.Stop()
	// The real server dies by SIGABRT on SIGTERM: a requested stop, not a crash.
	waitFor(t, sub, state(status.Stopped))
	if alive(pid) {
		t.Fatalf("child %d still alive after stop", pid)
	}
	if _, err := os.Stat(cfg.PIDFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
	stop()
	log, err := os.ReadFile(cfg.LogPath)
	if err != nil || !strings.Contains(string(log), "starting the main loop") {
		t.Fatalf("child's stderr not in the log: %v\n%s", err, log)
	}
}

func TestRealCrashLoopGivesUpWithTellingError(t *testing.T) {
	// A model file that is not GGUF: the early-2025 server aborts while
	// loading, and its asynchronous log loses the line that says why, so
	// nothing says retrying is futile: the budget is spent.
	cfg := realConfig(t, fakellama.EnvLoseLog+"=1")
	if err := os.WriteFile(cfg.Command.Args[1], []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Policy.MaxRestarts = 2
	_, sub, _ := realRun(t, cfg)
	var restarts []int
	st := waitFor(t, sub, func(st status.Status) bool {
		if st.State == status.Restarting {
			restarts = append(restarts, st.Attempt)
		}
		return st.State == status.FailedAfterMaxRestarts
	})
	if fmt.Sprint(restarts) != "[1 2]" || st.Attempts != 2 {
		t.Fatalf("restarts %v, final %+v", restarts, st)
	}
	// The most telling line, not libstdc++'s "terminate called ..." that
	// every abort prints.
	if !strings.HasPrefix(st.LastError, "killed by SIGABRT: ") || !strings.Contains(st.LastError, "model") || strings.Contains(st.LastError, "terminate called") {
		t.Fatalf("last_error %q", st.LastError)
	}
}

func TestRealBadArgumentExitsWithItsMessage(t *testing.T) {
	cfg := realConfig(t)
	cfg.Command.Args = append(cfg.Command.Args, "--bogus")
	cfg.Policy.MaxRestarts = 3
	_, sub, _ := realRun(t, cfg)
	var restarts int
	st := waitFor(t, sub, func(st status.Status) bool {
		if st.State == status.Restarting {
			restarts++
		}
		return st.State == status.FailedAfterMaxRestarts
	})
	// No retry fixes an argument the binary does not know: failed at once.
	if restarts != 0 || st.Attempts != 0 || st.LastError != "exited with status 1: error: invalid argument: --bogus" || st.Hint != hintUnknownArg("--bogus") {
		t.Fatalf("restarts %d, final %+v", restarts, st)
	}
}

func TestRealPortHeldByAnotherProgram(t *testing.T) {
	cfg := realConfig(t)
	other := testenv.Serve(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)), testenv.HangUp)
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, func(st status.Status) bool { return st.PortConflict() })
	if st.State != status.NotSpawning || st.Reason != fmt.Sprintf("port %d is already in use", cfg.Port) {
		t.Fatalf("reason %q", st.Reason)
	}
	other.Close()
	// Freed: it starts by itself within a health_check_interval or two.
	waitFor(t, sub, state(status.Running))
}

func TestRealSIGTERMIgnoringChildIsKilled(t *testing.T) {
	cfg := realConfig(t, "FAKE_LLAMA_IGNORE_SIGTERM=1")
	cfg.Policy.StopTimeout = 200 * time.Millisecond
	sup, sub, _ := realRun(t, cfg)
	pid := waitFor(t, sub, state(status.Running)).PID
	start := time.Now()
	sup.Stop()
	waitFor(t, sub, state(status.Stopped))
	if d := time.Since(start); d < cfg.Policy.StopTimeout {
		t.Fatalf("stopped after %v, before stop_timeout", d)
	}
	if alive(pid) {
		t.Fatal("child survived SIGKILL")
	}
}

func TestRealHangIsUnhealthy(t *testing.T) {
	cfg := realConfig(t, "FAKE_LLAMA_HANG_AFTER=100ms")
	_, sub, _ := realRun(t, cfg)
	first := waitFor(t, sub, state(status.Running)).PID
	st := waitFor(t, sub, state(status.Restarting))
	if !strings.HasPrefix(st.LastError, "unhealthy") {
		t.Fatalf("last_error %q", st.LastError)
	}
	if alive(first) {
		t.Fatal("hung child not stopped")
	}
}

// A child that never finishes loading is given up after startup_timeout,
// and last_error says so with the last answer: "Loading model". On a loaded
// machine a child may not even have bound its port before the timeout (its
// last answer is then "connection refused"): such an attempt proves
// nothing, the next one is looked at.
func TestRealStartupTimeout(t *testing.T) {
	cfg := realConfig(t, "FAKE_LLAMA_LOAD=1h")
	cfg.Policy.StartupTimeout = time.Second
	cfg.Policy.MaxRestarts = 10
	_, sub, _ := realRun(t, cfg)
	for {
		st := waitFor(t, sub, func(st status.Status) bool {
			return st.State == status.Restarting || st.State == status.FailedAfterMaxRestarts
		})
		if !strings.Contains(st.LastError, "not ready within startup_timeout 1s") {
			t.Fatalf("last_error %q", st.LastError)
		}
		if strings.Contains(st.LastError, "Loading model") {
			return
		}
		if st.State == status.FailedAfterMaxRestarts {
			t.Fatalf("no child answered before its startup_timeout in %d attempts; last_error %q", cfg.Policy.MaxRestarts+1, st.LastError)
		}
		t.Logf("attempt %d ended before its child answered: %s", st.Attempt, st.LastError)
	}
}

// --- the agent dies by SIGKILL: its child must not outlive it ---

// agentChild is the child (see testproc) that is a minimal agent.
const agentChild = "supervisor-agent"

// agentHelper is a minimal agent: it supervises the fake llama-server (this
// binary again, as another child) from the config in the environment until
// it is killed. With WRAP=1 the server is started through a shell that
// does not exec and forks two servers (pid files PF1 and PF2, the second on
// PORT2), as a wrapper script or a router would.
func agentHelper() int {
	port, _ := strconv.Atoi(os.Getenv("AGENT_PORT"))
	fake, env := fakellamatest.HelperCommand()
	env = append(env, "FAKE_LLAMA_PIDFILE="+os.Getenv("AGENT_CHILD_PIDFILE"))
	cmd := &Command{Path: fake, Args: []string{"-m", os.Getenv("AGENT_MODEL"), "--port", strconv.Itoa(port)}, Env: env}
	if os.Getenv("WRAP") == "1" {
		cmd = &Command{Path: "/bin/sh", Args: []string{"-c", `FAKE_LLAMA_PIDFILE="$PF1" "$@" --port "$AGENT_PORT" &
FAKE_LLAMA_PIDFILE="$PF2" "$@" --port "$PORT2" &
wait`, "sh", fake, "-m", os.Getenv("AGENT_MODEL")}, Env: env}
	}
	cfg := Config{Command: cmd, ProbeHost: "127.0.0.1", Port: port, Policy: DefaultPolicy()}
	New(cfg).Run(context.Background())
	return 0
}

// startAgentHelper starts agentHelper with a model in dir and env added.
func startAgentHelper(t *testing.T, dir string, env ...string) *testproc.Proc {
	t.Helper()
	model := filepath.Join(dir, "m.gguf")
	if err := fakellama.WriteModel(model); err != nil {
		t.Fatal(err)
	}
	cmd := testproc.Command(agentChild)
	cmd.Env = append(append(cmd.Env, "AGENT_MODEL="+model), env...)
	return testproc.Start(t, cmd)
}

func TestChildDiesWithSIGKILLedAgent(t *testing.T) {
	dir := t.TempDir()
	childPIDFile := filepath.Join(dir, "child.pid")
	agent := startAgentHelper(t, dir, "AGENT_PORT="+strconv.Itoa(testenv.FreePort(t)), "AGENT_CHILD_PIDFILE="+childPIDFile)
	childPID := readPID(t, childPIDFile)
	killOnCleanup(t, childPID)
	killedAt := time.Now()
	agent.Cmd.Process.Kill()
	agent.Wait(t)
	testenv.Eventually(t, fmt.Sprintf("child %d to die with the SIGKILLed agent", childPID), func() bool { return !alive(childPID) })
	t.Logf("child died %v after the agent's SIGKILL", time.Since(killedAt))
}
