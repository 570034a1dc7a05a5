package supervisor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

// startStray starts a fake llama-server as an earlier agent would have: in
// a group of its own. It is reaped as soon as it ends, as the leftover of a
// dead agent is (by whoever adopted it).
func startStray(t *testing.T, cfg Config, knobs ...string) *testproc.Proc {
	t.Helper()
	cmd := exec.Command(cfg.Command.Path, cfg.Command.Args...)
	cmd.Env = append(cfg.Command.Env, knobs...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return testproc.Start(t, cmd)
}

// A pid reused by another run of the same binary, one we did not start
// (its start time is not the recorded one): left alone.
func TestStopLeftoverLeavesAReusedPid(t *testing.T) {
	cfg := realConfig(t)
	s := startStray(t, cfg)
	pid := s.Cmd.Process.Pid
	for _, record := range []string{
		fmt.Sprintf("%d\n%s\n1\n", pid, cfg.Command.Path), // another start time
		fmt.Sprintf("%d\n%s\n", pid, cfg.Command.Path),    // none recorded: cannot tell
	} {
		os.WriteFile(cfg.PIDFile, []byte(record), 0o600)
		if got, err := StopLeftover(t.Context(), cfg.PIDFile, time.Second); got != 0 {
			t.Fatalf("pid file %q: stopped %d (%v), same binary but not the process we started", record, got, err)
		}
		if !alive(pid) {
			t.Fatalf("pid file %q: the process that reused the pid was stopped", record)
		}
	}
}

// record writes the pid file an agent writes for pid.
func record(t *testing.T, cfg Config, pid int, binary string) {
	t.Helper()
	started := processStarted(pid)
	if started == 0 {
		t.Fatalf("no start time for %d", pid)
	}
	if err := os.WriteFile(cfg.PIDFile, []byte(fmt.Sprintf("%d\n%s\n%d\n", pid, binary, started)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStopLeftoverStopsOnlyOurServer(t *testing.T) {
	cfg := realConfig(t)
	s := startStray(t, cfg)
	pid := s.Cmd.Process.Pid
	// Another binary: not ours, left alone.
	record(t, cfg, pid, "/usr/bin/something-else")
	if got, err := StopLeftover(t.Context(), cfg.PIDFile, time.Second); got != 0 || err != nil {
		t.Fatalf("stopped %d (%v) for a foreign binary", got, err)
	}
	if !alive(pid) {
		t.Fatal("foreign process was stopped")
	}
	// Ours: stopped.
	record(t, cfg, pid, cfg.Command.Path)
	if got, err := StopLeftover(t.Context(), cfg.PIDFile, time.Second); got != pid || err != nil {
		t.Fatalf("StopLeftover = %d, %v", got, err)
	}
	if err := s.Wait(t); err == nil {
		t.Fatal("leftover exited 0; want killed")
	}
	if _, err := os.Stat(cfg.PIDFile); !os.IsNotExist(err) {
		t.Fatal("pid file not removed")
	}
}

// Without /proc (macOS, the BSDs) the leftover is still recognised, by what
// ps says, and still told from a reused pid.
func TestStopLeftoverWithoutProc(t *testing.T) {
	testenv.Need(t, "ps")
	saved := procRoot
	procRoot = t.TempDir() // no procfs there
	t.Cleanup(func() { procRoot = saved })
	cfg := realConfig(t)
	s := startStray(t, cfg)
	pid := s.Cmd.Process.Pid
	id, err := identify(pid)
	if err != nil || id.start&psStartMark == 0 || id.exe != filepath.Base(cfg.Command.Path)[:min(15, len(filepath.Base(cfg.Command.Path)))] {
		t.Fatalf("identify without procfs: %+v, %v", id, err)
	}
	os.WriteFile(cfg.PIDFile, []byte(fmt.Sprintf("%d\n%s\n%d\n", pid, cfg.Command.Path, id.start-1)), 0o600)
	if got, _ := StopLeftover(t.Context(), cfg.PIDFile, time.Second); got != 0 || !alive(pid) {
		t.Fatalf("stopped %d: a process started at another time", got)
	}
	record(t, cfg, pid, cfg.Command.Path)
	if got, err := StopLeftover(t.Context(), cfg.PIDFile, time.Second); got != pid || err != nil {
		t.Fatalf("StopLeftover = %d, %v", got, err)
	}
	s.Wait(t)
}

// A leftover that ignores SIGTERM is killed after the stop_timeout given,
// not before.
func TestStopLeftoverWaitsStopTimeout(t *testing.T) {
	cfg := realConfig(t)
	s := startStray(t, cfg, "FAKE_LLAMA_IGNORE_SIGTERM=1")
	pid := s.Cmd.Process.Pid
	waitHealthy(t, cfg.Port) // its signal handling is in place
	record(t, cfg, pid, cfg.Command.Path)
	const stopTimeout = 300 * time.Millisecond
	start := time.Now()
	if got, err := StopLeftover(t.Context(), cfg.PIDFile, stopTimeout); got != pid || err != nil {
		t.Fatalf("StopLeftover = %d, %v", got, err)
	}
	if d := time.Since(start); d < stopTimeout {
		t.Fatalf("killed after %v, before stop_timeout", d)
	}
	if err := s.Wait(t); !strings.Contains(fmt.Sprint(err), "killed") {
		t.Fatalf("leftover ended with %v; want killed", err)
	}
}

// The agent stopped (Ctrl-C) while waiting out stop_timeout for a leftover
// that ignores SIGTERM: the pid file stays, so the next agent still knows
// of the server instead of finding only "port in use".
func TestStopLeftoverInterruptedKeepsThePIDFile(t *testing.T) {
	cfg := realConfig(t)
	s := startStray(t, cfg, "FAKE_LLAMA_IGNORE_SIGTERM=1")
	waitHealthy(t, cfg.Port)
	record(t, cfg, s.Cmd.Process.Pid, cfg.Command.Path)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the wait after the polite stop ends at once
	if _, err := StopLeftover(ctx, cfg.PIDFile, time.Hour); err == nil {
		t.Fatal("StopLeftover returned no error for the cancelled wait")
	}
	if syscall.Kill(s.Cmd.Process.Pid, 0) != nil {
		t.Fatalf("the leftover %d ended; the test needs it alive", s.Cmd.Process.Pid)
	}
	if _, err := os.Stat(cfg.PIDFile); err != nil {
		t.Fatalf("pid file gone while the leftover %d still runs: %v", s.Cmd.Process.Pid, err)
	}
}
