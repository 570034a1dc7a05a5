//go:build linux

package supervisor

import (
	"context"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fakellamatest"
)

// These tests run the supervisor against real child processes: the test
// binary re-executed as the fake llama-server, which behaves like the real
// one (503 while loading, SIGABRT on SIGTERM, stderr-only logging).

func TestMain(m *testing.M) {
	fakellama.RunIfHelper()
	if os.Getenv(agentHelperEnv) == "1" {
		os.Exit(agentHelper())
	}
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
	port := fakellamatest.FreePort(t)
	p := DefaultPolicy()
	p.InitialBackoff, p.MaxBackoff = 10*time.Millisecond, 20*time.Millisecond
	p.HealthCheckInterval, p.HealthCheckTimeout = 50*time.Millisecond, 300*time.Millisecond
	p.StartupTimeout, p.StopTimeout = 5*time.Second, 2*time.Second
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
func realRun(t *testing.T, cfg Config) (*Supervisor, *status.Subscription, func()) {
	t.Helper()
	sup := New(cfg)
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

// waitFor reads events until one matches, failing after the deadline.
func waitFor(t *testing.T, sub *status.Subscription, d time.Duration, match func(status.Status) bool) status.Status {
	t.Helper()
	timer := time.NewTimer(d)
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
			t.Fatalf("no matching status within %v", d)
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
	st := waitFor(t, sub, 10*time.Second, state(status.Running))
	pid := st.PID
	if !alive(pid) {
		t.Fatalf("running pid %d is not alive", pid)
	}
	if b, err := os.ReadFile(cfg.PIDFile); err != nil || !strings.HasPrefix(string(b), strconv.Itoa(pid)+"\n") {
		t.Fatalf("pid file %q, %v", b, err)
	}
	sup.Stop()
	// The real server dies by SIGABRT on SIGTERM: a requested stop, not a crash.
	waitFor(t, sub, 10*time.Second, state(status.Stopped))
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
	cfg := realConfig(t)
	// A model file that is not GGUF: the real server aborts while loading.
	if err := os.WriteFile(cfg.Command.Args[1], []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Policy.MaxRestarts = 2
	_, sub, _ := realRun(t, cfg)
	var restarts []int
	st := waitFor(t, sub, 20*time.Second, func(st status.Status) bool {
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
	cfg.Policy.MaxRestarts = 0
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, 10*time.Second, state(status.FailedAfterMaxRestarts))
	if st.LastError != "exited with status 1: error: invalid argument: --bogus" {
		t.Fatalf("last_error %q", st.LastError)
	}
}

func TestRealPortHeldByAnotherProgram(t *testing.T) {
	cfg := realConfig(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
	if err != nil {
		t.Fatal(err)
	}
	go func() { // answer connections, like any server would
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, 5*time.Second, func(st status.Status) bool { return st.PortConflict() })
	if st.State != status.NotSpawning || st.Reason != fmt.Sprintf("port %d is already in use", cfg.Port) {
		t.Fatalf("reason %q", st.Reason)
	}
	l.Close()
	// Freed: it starts by itself within a health_check_interval or two.
	waitFor(t, sub, 10*time.Second, state(status.Running))
}

func TestRealSIGTERMIgnoringChildIsKilled(t *testing.T) {
	cfg := realConfig(t, "FAKE_LLAMA_IGNORE_SIGTERM=1")
	cfg.Policy.StopTimeout = 200 * time.Millisecond
	sup, sub, _ := realRun(t, cfg)
	pid := waitFor(t, sub, 10*time.Second, state(status.Running)).PID
	start := time.Now()
	sup.Stop()
	waitFor(t, sub, 10*time.Second, state(status.Stopped))
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
	first := waitFor(t, sub, 10*time.Second, state(status.Running)).PID
	st := waitFor(t, sub, 10*time.Second, state(status.Restarting))
	if !strings.HasPrefix(st.LastError, "unhealthy") {
		t.Fatalf("last_error %q", st.LastError)
	}
	if alive(first) {
		t.Fatal("hung child not stopped")
	}
}

func TestRealStartupTimeout(t *testing.T) {
	cfg := realConfig(t, "FAKE_LLAMA_LOAD=1h")
	cfg.Policy.StartupTimeout = 300 * time.Millisecond
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, 10*time.Second, state(status.Restarting))
	if !strings.Contains(st.LastError, "startup_timeout") || !strings.Contains(st.LastError, "Loading model") {
		t.Fatalf("last_error %q", st.LastError)
	}
}

func TestStopLeftoverStopsOnlyOurServer(t *testing.T) {
	cfg := realConfig(t)
	cmd := exec.Command(cfg.Command.Path, cfg.Command.Args...)
	cmd.Env = cfg.Command.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid

	// A pid file naming another binary: not ours, left alone.
	os.WriteFile(cfg.PIDFile, []byte(fmt.Sprintf("%d\n/usr/bin/something-else\n", pid)), 0o600)
	if got, err := StopLeftover(t.Context(), cfg.PIDFile, time.Second); got != 0 || err != nil {
		t.Fatalf("stopped %d (%v) for a foreign binary", got, err)
	}
	if !alive(pid) {
		t.Fatal("foreign process was stopped")
	}
	// Our binary: stopped.
	os.WriteFile(cfg.PIDFile, []byte(fmt.Sprintf("%d\n%s\n", pid, cfg.Command.Path)), 0o600)
	if got, err := StopLeftover(t.Context(), cfg.PIDFile, time.Second); got != pid || err != nil {
		t.Fatalf("StopLeftover = %d, %v", got, err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("leftover exited 0; want killed")
	}
	if _, err := os.Stat(cfg.PIDFile); !os.IsNotExist(err) {
		t.Fatal("pid file not removed")
	}
}

// --- the agent dies by SIGKILL: its child must not outlive it ---

const agentHelperEnv = "OCM_SUPERVISOR_AGENT_HELPER"

// agentHelper is a minimal agent: it supervises the fake llama-server from
// the config in the environment until it is killed.
func agentHelper() int {
	port, _ := strconv.Atoi(os.Getenv("AGENT_PORT"))
	self, _ := os.Executable()
	env := append(os.Environ(), fakellama.HelperEnv+"=1", agentHelperEnv+"=0", "FAKE_LLAMA_PIDFILE="+os.Getenv("AGENT_CHILD_PIDFILE"))
	cfg := Config{
		Command:   &Command{Path: self, Args: []string{"-m", os.Getenv("AGENT_MODEL"), "--port", strconv.Itoa(port)}, Env: env},
		ProbeHost: "127.0.0.1", Port: port, Policy: DefaultPolicy(),
	}
	New(cfg).Run(context.Background())
	return 0
}

func TestChildDiesWithSIGKILLedAgent(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.gguf")
	fakellama.WriteModel(model)
	childPIDFile := filepath.Join(dir, "child.pid")
	self, _ := os.Executable()
	agent := exec.Command(self, "-test.run=^$")
	agent.Env = append(os.Environ(), agentHelperEnv+"=1", "AGENT_MODEL="+model,
		"AGENT_PORT="+strconv.Itoa(fakellamatest.FreePort(t)), "AGENT_CHILD_PIDFILE="+childPIDFile)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	var childPID int
	deadline := time.Now().Add(10 * time.Second)
	for childPID == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the agent's child never wrote its pid")
		}
		if b, err := os.ReadFile(childPIDFile); err == nil {
			childPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(5 * time.Millisecond) // polling a file another process writes
	}
	t.Cleanup(func() { syscall.Kill(childPID, syscall.SIGKILL) })
	killedAt := time.Now()
	agent.Process.Kill()
	agent.Wait()
	for alive(childPID) {
		if time.Since(killedAt) > 5*time.Second {
			t.Fatalf("child %d outlived the SIGKILLed agent", childPID)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("child died %v after the agent's SIGKILL", time.Since(killedAt))
}
