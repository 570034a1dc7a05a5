//go:build linux

package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/logfile"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// These tests run the supervisor against wrapper scripts whose own children
// are fake llama-servers: the shape of `sh -c 'llama-server ...'` without
// exec, and of router mode, where the server forks one server per model.

// wrapped runs cfg's command through `sh -c script`: "$@" in the script is
// the fake llama-server with its arguments.
func wrapped(cfg Config, script string, env ...string) Config {
	c := *cfg.Command
	cfg.Command = &Command{
		Path: "/bin/sh",
		Args: append([]string{"-c", script, "sh", c.Path}, c.Args...),
		Env:  append(append([]string(nil), c.Env...), env...),
	}
	return cfg
}

// readPID waits for a pid file written by a fake llama-server.
func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	testenv.Eventually(t, "a pid in "+path, func() bool { // polling a file another process writes
		if b, err := os.ReadFile(path); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return pid > 0
	})
	return pid
}

// killOnCleanup SIGKILLs pid when the test ends, should it still run.
func killOnCleanup(t *testing.T, pid int) {
	t.Cleanup(func() {
		if testproc.Alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// groupMembers lists the live (not zombie) processes of process group pgid.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state, ppid, pgrp, ...
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

// waitGroupGone polls until process group pgid has no live process, and
// returns how long that took.
func waitGroupGone(t *testing.T, pgid int) time.Duration {
	t.Helper()
	start := time.Now()
	if !testenv.Poll(testenv.WaitLimit, func() bool { return len(groupMembers(pgid)) == 0 }) {
		m := groupMembers(pgid)
		syscall.Kill(-pgid, syscall.SIGKILL)
		t.Fatalf("processes %v of group %d still alive after %v", m, pgid, testenv.WaitLimit)
	}
	return time.Since(start)
}

// A wrapper that exits while its own child, holding the wrapper's stdout
// and stderr, runs on: the exit is the wrapper's and is seen at once, and
// the child does not outlive it (it would keep the port forever).
func TestRealWrapperExitIsSeenAndItsChildDies(t *testing.T) {
	cfg := realConfig(t)
	gcFile := filepath.Join(t.TempDir(), "grandchild.pid")
	cfg = wrapped(cfg, `FAKE_LLAMA_PIDFILE="$GC" "$@" &
while [ ! -s "$GC" ]; do sleep 0.01; done
echo "wrapper: giving up" >&2
exit 3`, "GC="+gcFile)
	cfg.Policy.MaxRestarts = 0
	_, sub, stop := realRun(t, cfg)
	st := waitFor(t, sub, func(st status.Status) bool {
		if st.State == status.Starting && st.PID != 0 {
			killOnCleanup(t, st.PID)
		}
		return st.State == status.FailedAfterMaxRestarts
	})
	gc := readPID(t, gcFile)
	killOnCleanup(t, gc)
	if !strings.HasPrefix(st.LastError, "exited with status 3") {
		t.Fatalf("last_error %q", st.LastError)
	}
	// Gone before the exit was reported: nothing answers on the port.
	if portAnswers(t.Context(), "127.0.0.1", cfg.Port) {
		t.Fatalf("port %d still answered when the exit was reported", cfg.Port)
	}
	testenv.Eventually(t, fmt.Sprintf("the wrapper's child %d to die with it", gc), func() bool { return !testproc.Alive(gc) })
	stop()
}

// The agent killed by SIGKILL takes the whole process group with it: a
// wrapper that did not exec and the two servers it forked (as a router
// forks one per model).
func TestGroupDiesWithSIGKILLedAgent(t *testing.T) {
	dir := t.TempDir()
	pf1, pf2 := filepath.Join(dir, "one.pid"), filepath.Join(dir, "two.pid")
	p1, p2 := testenv.FreePort(t), testenv.FreePort(t)
	agent := startAgentHelper(t, dir, "WRAP=1", "AGENT_PORT="+strconv.Itoa(p1), "PORT2="+strconv.Itoa(p2), "PF1="+pf1, "PF2="+pf2)
	one, two := readPID(t, pf1), readPID(t, pf2)
	killOnCleanup(t, one)
	killOnCleanup(t, two)
	// Both loaded and idle: a server that still logs would die of SIGPIPE
	// on its stderr once the agent is gone, which would prove nothing.
	for _, port := range []int{p1, p2} {
		waitHealthy(t, port)
	}
	pgid, err := syscall.Getpgid(one)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := syscall.Getpgid(two); g != pgid {
		t.Fatalf("the two servers are in groups %d and %d", pgid, g)
	}
	members := groupMembers(pgid)
	agent.Cmd.Process.Kill()
	agent.Wait(t)
	took := waitGroupGone(t, pgid)
	t.Logf("group %d (%d processes) gone %v after the agent's SIGKILL", pgid, len(members), took)
}

// waitHealthy polls a fake llama-server until GET /health answers 200.
func waitHealthy(t *testing.T, port int) {
	t.Helper()
	p := newHTTPProber()
	url := healthURL("127.0.0.1", port)
	testenv.Eventually(t, fmt.Sprintf("port %d to become healthy", port), func() bool { return p.probe(t.Context(), url) == nil })
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatal(err)
			}
			return path
		}
	}
}

// A full disk under the log: the server is neither killed nor slowed by
// it, the loss is said once, and the log resumes once there is room.
func TestRealFullDiskNeverHurtsTheServer(t *testing.T) {
	dir := testenv.MountTmpfs(t, "64k")
	filler := fill(t, dir)
	cfg := realConfig(t)
	cfg.LogPath = filepath.Join(dir, "llama-server.log")
	// More than a pipe buffer on stdout before the server starts: a copy
	// that stops at the first failed write would leave it blocked or
	// killed by SIGPIPE.
	cfg = wrapped(cfg, `i=0
while [ $i -lt 3000 ]; do
	echo "wrapper line $i: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	i=$((i+1))
done
exec "$@"`)
	var logged testproc.Output
	sup, sub, stop := realRun(t, cfg, WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	st := waitFor(t, sub, func(st status.Status) bool {
		if st.State == status.Restarting || st.State == status.FailedAfterMaxRestarts {
			t.Fatalf("the server died of the full disk: %s", st.LastError)
		}
		return st.State == status.Running && st.Warning != ""
	})
	if !strings.Contains(st.Warning, cfg.LogPath) || !strings.Contains(st.Warning, "no space left on device") {
		t.Fatalf("warning %q", st.Warning)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	sup.Stop() // the server's shutdown lines are written once there is room
	waitFor(t, sub, func(st status.Status) bool { return st.State == status.Stopped && st.Warning == "" })
	stop()
	log, _ := os.ReadFile(cfg.LogPath)
	if !regexp.MustCompile(`lines lost here \(.*no space left on device\)`).Match(log) || !bytes.Contains(log, []byte("cleaning up before exit")) {
		t.Fatalf("the log did not resume with a note of the loss:\n%s", log)
	}
	if n := strings.Count(logged.String(), "cannot write the llama-server log"); n != 1 {
		t.Fatalf("the loss was said %d times, want once:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "lost_lines=") {
		t.Fatalf("the resumption and its count were not logged:\n%s", logged.String())
	}
}

// SIGTERM to the agent while a crash loop is about to respawn (here: while
// the spawn-gate runs again): nothing is started after it.
func TestRealNoSpawnAfterShutdownBegan(t *testing.T) {
	cfg := realConfig(t)
	// A model too big to load: a failure worth retrying, so a respawn is
	// being decided when the signal comes.
	if err := fakellama.WriteFailingModel(cfg.Command.Args[1], fakellama.LoadErrorOOM); err != nil {
		t.Fatal(err)
	}
	cfg.Policy.MaxRestarts = 5
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var checks atomic.Int32
	cfg.Recheck = func() string {
		if checks.Add(1) == 2 {
			cancel() // the signal arrives as the respawn is being decided
		}
		return ""
	}
	sup := New(cfg)
	sub := sup.Subscribe(256)
	sup.Run(ctx)
	starts := 0
	for ev := range sub.C {
		if ev.Status.State == status.Starting {
			starts++
			killOnCleanup(t, ev.Status.PID)
		}
	}
	if starts != 1 {
		t.Fatalf("%d children started; want 1 (none after shutdown began)", starts)
	}
	log, _ := os.ReadFile(cfg.LogPath)
	if n := len(separatorRE.FindAll(log, -1)); n != 1 {
		t.Fatalf("%d spawn lines in the log, want 1:\n%s", n, log)
	}
}

var separatorRE = regexp.MustCompile(`(?m)^--- (\S+) ocm-tray started llama-server, pid (\d+): (.*)$`)

// Each spawn writes one line before the child's output: when, which pid,
// which argv (quoted where a shell would need it; secrets hidden).
func TestRealSpawnSeparatorLine(t *testing.T) {
	cfg := realConfig(t)
	spaced := filepath.Join(filepath.Dir(cfg.Command.Args[1]), "my model.gguf")
	if err := os.Rename(cfg.Command.Args[1], spaced); err != nil {
		t.Fatal(err)
	}
	cfg.Command.Args[1] = spaced
	cfg.Command.Args = append(cfg.Command.Args, "--api-key", "s3cret")
	sup, sub, stop := realRun(t, cfg)
	first := waitFor(t, sub, state(status.Running)).PID
	sup.Restart()
	second := waitFor(t, sub, func(st status.Status) bool {
		return st.State == status.Running && st.PID != first
	}).PID
	stop()
	log, err := os.ReadFile(cfg.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(log, []byte("s3cret")) {
		t.Fatalf("the api key is in the log:\n%s", log)
	}
	m := separatorRE.FindAllSubmatch(log, -1)
	if len(m) != 2 || !bytes.HasPrefix(log, m[0][0]) {
		t.Fatalf("want 2 spawn lines, the first at the top:\n%s", log)
	}
	wantArgv := cfg.Command.Path + " -m '" + spaced + "' --host 127.0.0.1 --port " + strconv.Itoa(cfg.Port) + " -c 4096 --api-key REDACTED"
	for i, pid := range []int{first, second} {
		if _, err := time.Parse(time.RFC3339, string(m[i][1])); err != nil {
			t.Errorf("line %d: time %q: %v", i, m[i][1], err)
		}
		if string(m[i][2]) != strconv.Itoa(pid) {
			t.Errorf("line %d: pid %s, want %d", i, m[i][2], pid)
		}
		if string(m[i][3]) != wantArgv {
			t.Errorf("line %d: argv\n%s\nwant\n%s", i, m[i][3], wantArgv)
		}
	}
	// Each run's lines follow its own separator.
	runs := separatorRE.Split(string(log), -1)
	if len(runs) != 3 || !strings.Contains(runs[1], "cleaning up before exit") || !strings.Contains(runs[2], "starting the main loop") {
		t.Fatalf("runs not told apart:\n%s", log)
	}
}

// A spawn that fails says so in one sentence naming the program and the
// fix, not Go's "fork/exec PATH: ..." with the path twice.
func TestRealSpawnErrorIsOneSentence(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "llama-server")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "cannot start " + filepath.Join(dir, "missing") + ": no such file"},
		{notExec, "cannot start " + notExec + ": it is not executable (chmod +x it)"},
	} {
		cfg := realConfig(t)
		cfg.Command.Path = tc.path
		_, sub, stop := realRun(t, cfg)
		st := waitFor(t, sub, func(st status.Status) bool {
			return st.State == status.NotSpawning && strings.HasPrefix(st.Reason, "cannot start")
		})
		if st.Reason != tc.want {
			t.Errorf("reason %q\nwant   %q", st.Reason, tc.want)
		}
		stop()
	}
}

// BenchmarkExitSeen is the time from spawn to the exit being seen for a
// child that exits at once: alone, and leaving a grandchild (sleep 2) that
// holds its stdout and stderr. With a log, as the agent always has one.
func BenchmarkExitSeen(b *testing.B) {
	for _, tc := range []struct{ name, script string }{
		{"alone", "exit 0"},
		{"grandchild_holds_pipes", "sleep 2 & exit 0"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			log, err := logfile.Open(filepath.Join(b.TempDir(), "llama-server.log"), 0)
			if err != nil {
				b.Fatal(err)
			}
			defer log.Close()
			for b.Loop() {
				p, err := spawn(&Command{Path: "/bin/sh", Args: []string{"-c", tc.script}}, log)
				if err != nil {
					b.Fatal(err)
				}
				<-p.Exited()
			}
		})
	}
}

// A pid file that cannot be written (its folder removed after the agent
// started) is said in one sentence naming the file, why and what it costs;
// the server runs regardless.
func TestRealPIDFileProblemIsOneSentence(t *testing.T) {
	cfg := realConfig(t)
	cfg.PIDFile = filepath.Join(t.TempDir(), "gone", "llama-server.pid")
	var logged testproc.Output
	_, sub, _ := realRun(t, cfg, WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	waitFor(t, sub, state(status.Running))
	want := "cannot write the pid file " + cfg.PIDFile + ": its folder " + filepath.Dir(cfg.PIDFile) +
		" does not exist (it was removed after the agent started): a llama-server left behind by a killed agent will not be stopped by the next one"
	if !strings.Contains(logged.String(), strconv.Quote(want)) {
		t.Fatalf("agent log lacks %q:\n%s", want, logged.String())
	}
}
