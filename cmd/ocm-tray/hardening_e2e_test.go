//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// `ocm-tray --headless 2>&1 | head -c 1`: the agent outlives the reader of
// its stderr, keeps logging to its file, answers, and quits cleanly.
func TestAgentOutlivesItsStderr(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(agentBin, "--headless")
	cmd.Env = e.vars
	cmd.Stdout, cmd.Stderr = w, w
	a := e.launch(cmd)
	w.Close()
	if _, err := io.ReadFull(r, make([]byte, 1)); err != nil {
		t.Fatalf("reading the agent's first byte: %v", err)
	}
	r.Close() // head -c 1 is done

	pid := pidOf(e.waitState("running"))
	// Each change is a log line to the broken pipe.
	for _, step := range []struct{ cmd, state string }{{"stop", "stopped"}, {"start", "running"}, {"restart", "running"}} {
		if _, errOut, code := e.cli(step.cmd); code != 0 {
			t.Fatalf("%s: exit %d, %s", step.cmd, code, errOut)
		}
		e.waitState(step.state)
	}
	if _, errOut, code := e.cli("quit"); code != 0 {
		t.Fatalf("quit: exit %d, %s", code, errOut)
	}
	if err := a.Wait(t); err != nil {
		t.Fatalf("agent exit: %v (a write to its closed stderr killed it?)", err)
	}
	if alive(pid) {
		t.Fatalf("llama-server %d outlived the agent", pid)
	}
	if _, err := os.Lstat(filepath.Join(e.root, "run", "ocm", "ocm-tray.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	// The log file got what stderr could not take.
	log := string(mustRead(t, filepath.Join(e.root, "state", "ocm", "ocm-tray.log")))
	if !strings.Contains(log, "state=stopped") {
		t.Fatalf("the agent log lacks the lines logged after stderr closed:\n%s", log)
	}
}

// The command line piped into a reader that goes away ends quietly:
// `status --watch | head -n 1` ends with head, though the status does not
// change, and a one-shot `status` into a closed pipe says nothing.
func TestCLIOutputReaderGoesAway(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	e.startAgent()
	e.waitState("running")

	for _, args := range [][]string{{"status", "--watch"}, {"status", "--watch", "--json"}, {"logs", "-f", "-n", "1"}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(agentBin, args...)
		cmd.Env = e.vars
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = w, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
			t.Fatalf("%v: first line: %v", args, err)
		}
		r.Close() // head -n 1 is done
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil || errb.Len() > 0 {
				t.Errorf("%v after its reader left: %v, stderr %q", args, err, errb.String())
			}
		case <-time.After(testenv.WaitLimit):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v still running %v after its reader left", args, testenv.WaitLimit)
		}
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(agentBin, "status")
	cmd.Env = e.vars
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &errb
	err = cmd.Run()
	w.Close()
	// Dying of SIGPIPE is how a Unix command says its reader left.
	var ee *exec.ExitError
	if errb.Len() > 0 || (err != nil && !(errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGPIPE)) {
		t.Fatalf("status into a closed pipe: %v, stderr %q", err, errb.String())
	}
}

// A settings error of megabytes (20,000 flags ocm-tray sets itself) leaves
// `status` working, its output bounded and printable.
func TestHugeSettingsErrorStatus(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	e.startAgent()
	e.waitState("running")
	args := strings.TrimSuffix(strings.Repeat(`"--port", `, 20000), ", ")
	body := strings.Replace(string(mustRead(t, e.settings)), `backend = "llamacpp"`, "backend = \"llamacpp\"\nllama_server_args = ["+args+"]", 1)
	if err := os.WriteFile(e.settings, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	testenv.Eventually(e.t, "settings_error", func() bool {
		st = e.status()
		_, has := st["settings_error"]
		return has
	})
	if se := st["settings_error"].(string); len(se) > 4096 {
		t.Fatalf("settings_error of %d bytes", len(se))
	}
	out, errOut, code := e.cli("status")
	if code != 0 {
		t.Fatalf("status: exit %d, %s", code, errOut)
	}
	if len(out) > 4096 {
		t.Fatalf("status printed %d bytes", len(out))
	}
	for _, r := range out {
		if r != '\n' && unicode.IsControl(r) {
			t.Fatalf("status printed %U:\n%q", r, out)
		}
	}
}

// Watchers, however many, never keep the command line out.
func TestWatchersNeverLockOutTheCLI(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", true)
	a := e.startAgent()
	e.waitState("running")
	sock := filepath.Join(e.root, "run", "ocm", "ocm-tray.sock")
	for i := range 70 {
		nc, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(testenv.WaitLimit))
		io.WriteString(nc, `{"cmd":"watch"}`+"\n")
		if _, err := bufio.NewReader(nc).ReadString('\n'); err != nil {
			t.Fatalf("watcher %d: %v", i, err)
		}
	}
	for _, c := range []string{"status", "stop", "quit"} {
		if _, errOut, code := e.cli(c); code != 0 {
			t.Fatalf("%s with 70 watchers: exit %d, %s", c, code, errOut)
		}
	}
	if err := a.Wait(t); err != nil {
		t.Fatalf("agent exit: %v", err)
	}
}

// A runtime directory too long for a unix socket: the agent and the
// command line both say so, naming the path and the fix.
func TestSocketPathTooLong(t *testing.T) {
	e := newEnv(t)
	long := filepath.Join(e.root, strings.Repeat("r", 100))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	vars := append(e.vars[:len(e.vars):len(e.vars)], "XDG_RUNTIME_DIR="+long) // the last one wins
	sock := filepath.Join(long, "ocm", "ocm-tray.sock")
	want := fmt.Sprintf("ocm-tray: the control socket path %s is %d bytes, more than the 107 a unix socket allows: set XDG_RUNTIME_DIR to a shorter directory\n", sock, len(sock))
	for _, args := range [][]string{{"status"}, {"--headless"}, {"status"}, {"quit"}} {
		cmd := exec.Command(agentBin, args...)
		cmd.Env = vars
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 1 || errb.String() != want {
			t.Errorf("%v: exit %d (%v), stderr\n%q\nwant\n%q", args, code, err, errb.String(), want)
		}
	}
}

// Without XDG_RUNTIME_DIR the runtime directory is $TMPDIR/ocm-<uid>, in a
// directory every user can write to. Another user who creates it first,
// or who gets a socket of theirs into ours, answers nothing: the command
// line checks the directory, then who serves the socket.
func TestCLITrustsOnlyItsOwnAgent(t *testing.T) {
	testenv.NeedRoot(t)
	e := newEnv(t)
	if err := os.Chmod(e.root, 0o711); err != nil { // the other user passes through
		t.Fatal(err)
	}
	tmp := filepath.Join(e.root, "tmp")
	if err := os.Mkdir(tmp, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	os.Chmod(tmp, 0o777|os.ModeSticky) // whatever the umask
	var vars []string
	for _, v := range e.vars {
		if !strings.HasPrefix(v, "XDG_RUNTIME_DIR=") {
			vars = append(vars, v)
		}
	}
	vars = append(vars, "TMPDIR="+tmp)

	// Their agent, as another user, in its own runtime directory.
	theirs := e.startAgentAs(testenv.OtherUID, testenv.OtherGID, tmp)
	theirSock := filepath.Join(tmp, "ocm-"+strconv.Itoa(testenv.OtherUID), "ocm-tray.sock")
	ours := filepath.Join(tmp, "ocm-"+strconv.Itoa(os.Getuid()))

	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(agentBin, args...)
		cmd.Env = vars
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	refused := func(what, want string) {
		t.Helper()
		for _, c := range []string{"status", "stop", "quit"} {
			out, errOut, code := run(c)
			if code != 1 || out != "" || !strings.Contains(errOut, want) {
				t.Errorf("%s, %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", what, c, code, out, errOut, want)
			}
		}
		theirs.answers(t) // neither stopped nor quit
	}

	// They created our runtime directory first and put their socket in it.
	if err := os.Mkdir(ours, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(theirSock, filepath.Join(ours, "ocm-tray.sock")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(ours, testenv.OtherUID, testenv.OtherGID); err != nil {
		t.Fatal(err)
	}
	refused("their directory", fmt.Sprintf("belongs to uid %d, not to you", testenv.OtherUID))

	// The directory is ours, the socket in it theirs.
	if err := os.Chown(ours, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	refused("their socket in our directory", fmt.Sprintf("is served by uid %d, not by you", testenv.OtherUID))
}

// otherAgent is an agent run as another user.
type otherAgent struct {
	*agentProc
	uid, gid int
	vars     []string
	cliPath  string
}

// startAgentAs runs a headless agent as uid:gid with its own home and
// TMPDIR=tmp, and returns once it answers.
func (e *env) startAgentAs(uid, gid int, tmp string) *otherAgent {
	e.t.Helper()
	// Our build directory is private: give them a copy of the binary.
	binDir := filepath.Join(e.root, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	bin := filepath.Join(binDir, "ocm-tray")
	if err := os.WriteFile(bin, mustRead(e.t, agentBin), 0o755); err != nil {
		e.t.Fatal(err)
	}
	home := filepath.Join(e.root, "other")
	if err := os.Mkdir(home, 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chown(home, uid, gid); err != nil {
		e.t.Fatal(err)
	}
	o := &otherAgent{uid: uid, gid: gid, vars: []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp, "GORACE=atexit_sleep_ms=0"}}
	cmd := exec.Command(bin, "--headless")
	cmd.Env = o.vars
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	o.agentProc = e.launch(cmd)
	o.cliPath = bin
	testenv.Eventually(e.t, "their agent answering", func() bool {
		_, _, code := o.cli("status")
		return code == 0
	})
	return o
}

// answers fails t unless the agent still answers its own user.
func (o *otherAgent) answers(t *testing.T) {
	t.Helper()
	if out, errOut, code := o.cli("status"); code != 0 || !strings.HasPrefix(out, "llama-server ") {
		t.Fatalf("their agent no longer answers them: exit %d, %q, %q\n%s", code, out, errOut, o.Stderr)
	}
}

// cli runs a command of theirs, as them.
func (o *otherAgent) cli(args ...string) (string, string, int) {
	cmd := exec.Command(o.cliPath, args...)
	cmd.Env = o.vars
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid)}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// A FIFO at the server's log path hangs nothing: the agent runs the server
// (its output discarded, said in the agent's log) and quits, and `logs`
// says what is there instead of waiting for a writer.
func TestFIFOAtTheServerLog(t *testing.T) {
	e := newEnv(t)
	logPath := filepath.Join(e.root, "state", "ocm", "llama-server.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(logPath, 0o600); err != nil {
		t.Fatal(err)
	}
	e.writeSettings("", true)
	a := e.startAgent("--headless")
	e.waitState("running")

	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBin, "logs")
	cmd.Env = e.vars
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatal("`ocm-tray logs` blocked on a FIFO")
	}
	if err == nil || !strings.Contains(string(out), "named pipe") {
		t.Fatalf("logs on a FIFO: %v, %q", err, out)
	}
	if _, stderr, code := e.cli("quit"); code != 0 {
		t.Fatalf("quit: %d %s", code, stderr)
	}
	if err := a.Wait(t); err != nil {
		t.Fatalf("agent: %v", err)
	}
}
