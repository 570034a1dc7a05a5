//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

// These run the real binary for the commands a newcomer meets first: init,
// logs, the --wait feedback, help, --version and autostart.

// with returns e's environment with the given KEY=VALUE entries replacing
// or adding to it.
func (e *env) with(kv ...string) *env {
	e2 := *e
	e2.vars = nil
	for _, v := range e.vars {
		key, _, _ := strings.Cut(v, "=")
		replaced := false
		for _, n := range kv {
			if strings.HasPrefix(n, key+"=") {
				replaced = true
			}
		}
		if !replaced {
			e2.vars = append(e2.vars, v)
		}
	}
	e2.vars = append(e2.vars, kv...)
	return &e2
}

func (e *env) stateFile(name string) string {
	return filepath.Join(e.root, "state", "ocm", name)
}

// From nothing to a running server: init finds the binary on PATH and the
// only model, check agrees, the agent starts it.
func TestInitToRunningServer(t *testing.T) {
	e := newEnv(t)
	e.vars = e.with("PATH=" + filepath.Dir(e.llama) + ":" + os.Getenv("PATH")).vars
	if err := fakellama.WriteModel(filepath.Join(e.models, "tiny.gguf")); err != nil {
		t.Fatal(err)
	}
	// A projector and a second part of nothing are not models.
	os.WriteFile(filepath.Join(e.models, "mmproj-tiny-f16.gguf"), []byte("GGUF"), 0o644)
	os.Remove(e.settings)

	out, errOut, code := e.cli("init")
	if code != 0 || errOut != "" {
		t.Fatalf("init: exit %d, stderr %q\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"wrote " + e.settings + "\n",
		fmt.Sprintf("  llama_server_binary = %q   (found on PATH)\n", e.llama),
		fmt.Sprintf("  model_id = %q   (the only model in %s)\n", "tiny", e.models),
		"gate: spawn\n",
		"start the agent with `ocm-tray`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("init's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "left to do") {
		t.Errorf("init found everything but says something is left to do:\n%s", out)
	}
	fi, err := os.Stat(e.settings)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("settings file: %v, %v", fi, err)
	}
	written := mustRead(t, e.settings)
	if out, _, code := e.cli("check"); code != 0 || out != "gate: spawn\n" {
		t.Fatalf("check after init: exit %d\n%s", code, out)
	}

	// Refuses to overwrite, says why, changes nothing.
	out, errOut, code = e.cli("init")
	if code != 1 || out != "" || !strings.Contains(errOut, e.settings+" already exists; init never overwrites it") {
		t.Fatalf("second init: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if string(mustRead(t, e.settings)) != string(written) {
		t.Fatal("the second init changed the settings file")
	}

	// The port is the test's, not 8080; everything else as init wrote it.
	body := strings.Replace(string(written), `# inference_base_url = "http://127.0.0.1:8080"`,
		fmt.Sprintf(`inference_base_url = "http://127.0.0.1:%d"`, e.port), 1)
	if err := os.WriteFile(e.settings, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	e.startAgent()
	if st := e.waitState("running"); st["model"] != "tiny" {
		t.Fatalf("running status %v", st)
	}
}

func TestInitWithNothingFound(t *testing.T) {
	e := newEnv(t)
	for _, d := range installDirs {
		if !strings.HasPrefix(d, "~/") {
			if _, err := os.Stat(filepath.Join(d, binaryName)); err == nil {
				t.Skipf("this machine has %s/%s, which init would find", d, binaryName)
			}
		}
	}
	e.vars = e.with("PATH=" + t.TempDir()).vars
	os.RemoveAll(e.models)
	cfg := filepath.Join(e.root, "elsewhere", "my.toml")
	out, errOut, code := e.cli("init", "--config", cfg)
	if code != 0 || errOut != "" {
		t.Fatalf("init: exit %d, stderr %q\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"wrote " + cfg + "\n",
		"created the models folder " + e.models + "\n",
		"  llama_server_binary: not set; no llama-server found (looked on PATH and in ~/.local/bin, /usr/local/bin, /opt/llama.cpp/bin, ~/llama.cpp/build/bin)\n",
		"  model_id: not set; no .gguf model in " + e.models + "\n",
		"gate: refuse: llama_server_binary is not set",
		"left to do:\n",
		"  then run `ocm-tray check --config " + cfg + "` until it says \"gate: spawn\"\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("init's output lacks %q:\n%s", want, out)
		}
	}
	if fi, err := os.Stat(e.models); err != nil || !fi.IsDir() {
		t.Fatalf("models folder not created: %v", err)
	}
	// Flags go after the command's name.
	_, errOut, code = e.cli("--config", cfg, "init")
	if code != 1 || !strings.Contains(errOut, "flags go after the command's name: ocm-tray init --config "+cfg) {
		t.Fatalf("--config before init: exit %d, %q", code, errOut)
	}
}

func TestLogs(t *testing.T) {
	e := newEnv(t)
	if _, errOut, code := e.cli("logs"); code != 1 || !strings.Contains(errOut, "no log yet: "+e.stateFile("llama-server.log")+" does not exist") {
		t.Fatalf("logs without a log: exit %d, %q", code, errOut)
	}
	os.MkdirAll(filepath.Dir(e.stateFile("x")), 0o700)
	var all strings.Builder
	for i := 1; i <= 120; i++ {
		fmt.Fprintf(&all, "server line %d\n", i)
	}
	os.WriteFile(e.stateFile("llama-server.log"), []byte(all.String()), 0o600)
	os.WriteFile(e.stateFile("ocm-tray.log"), []byte("agent line 1\nagent line 2\n"), 0o600)

	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "server line %d\n", i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs"}, lines(71, 120)},
		{[]string{"logs", "-n", "3"}, lines(118, 120)},
		{[]string{"logs", "--lines=1"}, lines(120, 120)},
		{[]string{"logs", "-n", "0"}, ""},
		{[]string{"logs", "-n", "500"}, lines(1, 120)},
		{[]string{"logs", "--agent", "-n", "1"}, "agent line 2\n"},
	} {
		out, errOut, code := e.cli(tc.args...)
		if code != 0 || errOut != "" || out != tc.want {
			t.Errorf("%q: exit %d, stderr %q, stdout\n%s\nwant\n%s", tc.args, code, errOut, out, tc.want)
		}
	}
}

// logs -f with no agent at all: follows the file across a rotation done the
// way the agent does it (rename to .1, a fresh file), until SIGTERM or
// SIGINT, and exits 0.
func TestLogsFollow(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			e := newEnv(t)
			path := e.stateFile("llama-server.log")
			os.MkdirAll(filepath.Dir(path), 0o700)
			os.WriteFile(path, []byte("old 1\nold 2\nold 3\n"), 0o600)

			cmd := exec.Command(agentBin, "logs", "-n", "2", "-f")
			cmd.Env = e.vars
			logs := testproc.Start(t, cmd)
			out := logs.Stdout
			want := "old 2\nold 3\n"
			testenv.Eventually(e.t, "the last two lines", func() bool { return out.String() == want })

			appendTo := func(p, s string) {
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString(s)
				f.Close()
			}
			appendTo(path, "old 4\n")
			want += "old 4\n"
			testenv.Eventually(e.t, "an appended line", func() bool { return out.String() == want })
			appendTo(path, "old 5 before the rotation\n")
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			appendTo(path, "new 1\n")
			want += "old 5 before the rotation\nnew 1\n"
			testenv.Eventually(e.t, "the lines around the rotation", func() bool { return out.String() == want })
			appendTo(path, "new 2\n")
			want += "new 2\n"
			testenv.Eventually(e.t, "a line in the new file", func() bool { return out.String() == want })

			logs.Signal(t, sig)
			if err := logs.Wait(t); err != nil {
				t.Fatalf("logs -f after %v: %v, stderr %q", sig, err, logs.Stderr)
			}
			if out.String() != want {
				t.Fatalf("printed\n%s\nwant\n%s", out, want)
			}
		})
	}
}

// start, stop and restart say what they asked; --wait waits for the
// outcome, prints it and exits 0 only when it is the one asked for.
func TestActFeedbackAndWait(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	e.startAgent()
	pid := pidOf(e.waitState("running"))

	out, errOut, code := e.cli("stop", "--wait")
	if code != 0 || errOut != "" || out != "asked llama-server to stop\nllama-server stopped; Model: tiny\n" {
		t.Fatalf("stop --wait: exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}
	if alive(pid) {
		t.Fatal("stop --wait returned while the child lived")
	}
	out, _, code = e.cli("stop", "--wait") // already stopped: at once
	if code != 0 || out != "asked llama-server to stop\nllama-server stopped; Model: tiny\n" {
		t.Fatalf("second stop --wait: exit %d\n%s", code, out)
	}

	// Running: the live view's first reading (idle, memory) may already be
	// in, and the server's URL is.
	running := func(pid string) string {
		return `llama-server running \(pid ` + pid + `, up under a minute\)(; Idle, \d+ MB)?; Model: tiny; URL: http://127\.0\.0\.1:\d+\n$`
	}
	out, _, code = e.cli("start", "--wait")
	if code != 0 || !regexp.MustCompile(`^asked llama-server to start\n(llama-server starting.*\n)?`+running(`\d+`)).MatchString(out) {
		t.Fatalf("start --wait: exit %d\n%s", code, out)
	}
	pid = pidOf(e.status())

	out, _, code = e.cli("restart", "--wait")
	newPID := pidOf(e.status())
	if code != 0 || newPID == pid || !regexp.MustCompile(running(strconv.Itoa(newPID))).MatchString(out) {
		t.Fatalf("restart --wait: exit %d, pid %d -> %d\n%s", code, pid, newPID, out)
	}
	if alive(pid) {
		t.Fatal("restart --wait returned while the old child lived")
	}

	// Without --wait: the one line, once the agent took the request.
	for _, cmd := range []string{"stop", "start", "restart"} {
		if out, errOut, code := e.cli(cmd); code != 0 || errOut != "" || out != "asked llama-server to "+cmd+"\n" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q", cmd, code, errOut, out)
		}
	}
	e.waitState("running")

	// The gate refuses: restart --wait ends in not_spawning, exit 1 (the
	// agent may have noticed the missing model first; the outcome is the
	// same).
	os.Remove(filepath.Join(e.models, "tiny.gguf"))
	out, _, code = e.cli("restart", "--wait")
	if code != 1 || !strings.HasSuffix(out, "\n") || !strings.Contains(out, "llama-server not started; Model: tiny; Why: model file") {
		t.Fatalf("restart --wait, gate refusing: exit %d\n%s", code, out)
	}
	// start --wait from not_spawning: the refusal stands, nothing is
	// published, and after a grace the status before is the answer.
	out, _, code = e.cli("start", "--wait")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 1 || len(lines) != 2 || lines[0] != "asked llama-server to start" || !strings.Contains(lines[1], "llama-server not started; Model: tiny; Why: model file") {
		t.Fatalf("start --wait, gate refusing: exit %d\n%s", code, out)
	}
}

// A server that cannot start: --wait says failed and exits 1; the agent's
// log says attempts=0 as the status does, without empty fields.
func TestWaitForFailure(t *testing.T) {
	e := newEnv(t)
	// An argument llama-server does not know: it exits at once, every time,
	// so the agent gives up at once instead of spending the restart.
	e.writeSettings("max_restarts = 1\n", true)
	body := strings.Replace(string(mustRead(t, e.settings)), `backend = "llamacpp"`, "backend = \"llamacpp\"\nllama_server_args = [\"--no-such-flag\"]", 1)
	os.WriteFile(e.settings, []byte(body), 0o644)
	e.startAgent()
	e.waitState("failed_after_max_restarts")

	for _, cmd := range []string{"restart", "start"} {
		out, _, code := e.cli(cmd, "--wait")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if code != 1 || lines[0] != "asked llama-server to "+cmd || !strings.HasPrefix(lines[len(lines)-1], "llama-server failed; Model: tiny; Last error: exited with status 1: error: invalid argument: --no-such-flag; To fix: ") {
			t.Fatalf("%s --wait on a server that cannot start: exit %d\n%s", cmd, code, out)
		}
	}
	log := string(mustRead(t, e.stateFile("ocm-tray.log")))
	if !strings.Contains(log, "state=failed_after_max_restarts attempts=0 last_error=") || !strings.Contains(log, "hint=") {
		t.Fatalf("the agent's log lacks the failed line with attempts=0 and its hint:\n%s", log)
	}
	for _, empty := range []string{"pid=0", `reason=""`, "attempt=0", `last_error=""`} {
		if strings.Contains(log, empty) {
			t.Errorf("the agent's log has an empty field %s:\n%s", empty, log)
		}
	}
}

func TestHelpAndUsageFromTheBinary(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // prefix
		stderr string // part
	}{
		{[]string{"--help"}, 0, "ocm-tray keeps", ""},
		{[]string{"help", "logs"}, 0, "usage: ocm-tray logs [-n N] [-f] [--agent]\n", ""},
		{[]string{"status", "-h"}, 0, "usage: ocm-tray status [--json] [--watch]\n", ""},
		{[]string{"stauts"}, 1, "", `unknown command "stauts"; did you mean status?`},
		{[]string{"logs", "--folow"}, 1, "", "unknown flag --folow; did you mean --follow?"},
		{[]string{"--config", "x.toml", "status"}, 1, "", "--config does not apply to status"},
	} {
		out, errOut, code := e.cli(tc.args...)
		if code != tc.code || !strings.HasPrefix(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) || (tc.code != 0) != (out == "") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, firstLine(out), errOut)
		}
		if tc.code != 0 && !strings.Contains(errOut, "usage:") {
			t.Errorf("%q: no usage on stderr: %q", tc.args, errOut)
		}
	}
}

// --version says what Go recorded in the binary when -ldflags -X did not
// set it: the module version, or the revision it was built from.
func TestVersionFromBuildInfo(t *testing.T) {
	e := newEnv(t)
	info, err := exec.Command("go", "version", "-m", agentBin).Output()
	if err != nil {
		t.Fatal(err)
	}
	out, _, code := e.cli("--version")
	if code != 0 {
		t.Fatalf("--version: exit %d", code)
	}
	if m := regexp.MustCompile(`(?m)^\tbuild\tvcs.revision=([0-9a-f]{12})`).FindSubmatch(info); m != nil {
		if !strings.Contains(out, string(m[1])) {
			t.Fatalf("--version %q does not name the revision %s", out, m[1])
		}
	} else if m := regexp.MustCompile(`(?m)^\tmod\t\S+\t(v\S+)`).FindSubmatch(info); m != nil {
		if out != "ocm-tray "+string(m[1])+"\n" {
			t.Fatalf("--version %q, want the module version %s", out, m[1])
		}
	} else if !strings.HasPrefix(out, "ocm-tray devel (no version or VCS information") {
		t.Fatalf("--version %q for a binary without version information:\n%s", out, info)
	}
	if out == "ocm-tray dev\n" {
		t.Fatal("--version says only dev")
	}

	// Built with VCS stamping: the commit is named. (Go stamps a clone, not
	// a git worktree, whose .git is a file: there go version -m shows no
	// revision either and the check above is the one that counts.)
	bin := filepath.Join(t.TempDir(), "ocm-tray")
	if b, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	info, err = exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\tbuild\tvcs.revision=([0-9a-f]{12})`).FindSubmatch(info)
	if m == nil {
		t.Logf("no VCS information in a -buildvcs=auto build here (not a clone?):\n%s", info)
		return
	}
	v, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(v), string(m[1])) {
		t.Fatalf("--version of a VCS-stamped build: %q, want the revision %s", v, m[1])
	}
}

// autostart on refuses a binary in the temporary folder with the command
// to install it, and names the systemd user unit as the alternative when
// that is enabled.
func TestAutostartOnE2E(t *testing.T) {
	e := newEnv(t)
	entry := filepath.Join(e.root, "config", "autostart", "ocm-tray.desktop")

	tmp := e.with("TMPDIR=" + filepath.Dir(agentBin))
	out, errOut, code := tmp.cli("autostart", "on")
	if code != 1 || out != "" || !strings.Contains(errOut, "refusing a temporary build: "+agentBin+" is in the temporary folder") ||
		!strings.Contains(errOut, "go install ./cmd/ocm-tray") || !strings.Contains(errOut, "go install github.com/OpenCircuitDev/ocm-tray/cmd/ocm-tray@latest") {
		t.Fatalf("autostart on from the temporary folder: exit %d, stdout %q, stderr\n%s", code, out, errOut)
	}
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Fatalf("a refused autostart on wrote %s", entry)
	}

	// Installed (not in the temporary folder), with the user unit enabled.
	wants := filepath.Join(e.root, "config", "systemd", "user", "default.target.wants")
	os.MkdirAll(wants, 0o755)
	unit := filepath.Join(e.root, "ocm-tray.service")
	os.WriteFile(unit, []byte("[Unit]\n"), 0o644)
	os.Symlink(unit, filepath.Join(wants, "ocm-tray.service"))
	installed := e.with("TMPDIR=" + filepath.Join(e.root, "tmp"))
	out, errOut, code = installed.cli("autostart", "on")
	if code != 0 || errOut != "" || !strings.Contains(out, "autostart: on (wrote "+entry+")\n") ||
		!strings.Contains(out, "the systemd user unit ocm-tray.service is enabled; autostart and the unit are alternatives — disable one (systemctl --user disable ocm-tray)") {
		t.Fatalf("autostart on with the unit enabled: exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}
	if !strings.Contains(string(mustRead(t, entry)), "Exec="+agentBin+"\n") {
		t.Fatalf("entry does not run %s", agentBin)
	}
}

// The command line trusts a socket only in a private runtime directory of
// its user, as the agent does; a missing one means no agent.
func TestCLIChecksTheRuntimeDir(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.root, "run", "ocm")
	if _, errOut, code := e.cli("status"); code != 3 || !strings.Contains(errOut, "no agent is running") {
		t.Fatalf("no runtime dir: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("status created %s", dir)
	}
	os.Mkdir(dir, 0o700)
	os.Chmod(dir, 0o755)
	if _, errOut, code := e.cli("status"); code != 1 || !strings.Contains(errOut, "has mode 0755") || !strings.Contains(errOut, "chmod 700 "+dir) {
		t.Fatalf("runtime dir 0755: exit %d, %q", code, errOut)
	}
	os.Remove(dir)
	target := filepath.Join(e.root, "elsewhere")
	os.Mkdir(target, 0o700)
	os.Symlink(target, dir)
	if _, errOut, code := e.cli("stop"); code != 1 || !strings.Contains(errOut, "is a symbolic link") {
		t.Fatalf("runtime dir a symlink: exit %d, %q", code, errOut)
	}
}
