//go:build linux

package testproc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// The children these tests start.
const (
	echoChild  = "echo"  // prints its arguments and the child name it sees, exits 3
	sleepChild = "sleep" // waits for stdin to close, ignoring SIGTERM if asked
)

func TestMain(m *testing.M) {
	RunChild(echoChild, func() int {
		fmt.Println(strings.Join(os.Args[1:], " "))
		fmt.Fprintln(os.Stderr, os.Getenv(childEnv), os.Getenv("GORACE"))
		return 3
	})
	RunChild(sleepChild, func() int {
		if os.Getenv("IGNORE_TERM") == "1" {
			signal.Ignore(syscall.SIGTERM)
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		return 0
	})
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

func TestChildRunsWithItsArguments(t *testing.T) {
	t.Setenv("GORACE", "halt_on_error=1")
	p := Start(t, Command(echoChild, "-test.run=x", "two words"))
	var ee *exec.ExitError
	if err := p.Wait(t); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Wait = %v, want exit status 3", err)
	}
	if got := p.Stdout.String(); got != "-test.run=x two words\n" {
		t.Errorf("stdout %q: the child did not get its own arguments", got)
	}
	if got := p.Stderr.String(); got != "echo halt_on_error=1 atexit_sleep_ms=0\n" {
		t.Errorf("stderr %q: want the child's name and GORACE with the exit pause off", got)
	}
}

// A child's child is named anew: Env replaces the name it was started with.
func TestEnvFromReplacesTheName(t *testing.T) {
	env := EnvFrom([]string{"A=1", childEnv + "=parent", "GORACE=exitcode=0"}, "kid")
	want := []string{"A=1", childEnv + "=kid", "GORACE=exitcode=0 atexit_sleep_ms=0"}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Fatalf("EnvFrom = %q, want %q", env, want)
	}
}

// The end of the test stops a child still running and reaps it, one that
// ignores SIGTERM included.
func TestStartStopsAndReapsAtTheEnd(t *testing.T) {
	defer func(d time.Duration) { stopGrace = d }(stopGrace)
	stopGrace = 100 * time.Millisecond
	for _, ignore := range []string{"0", "1"} {
		var p *Proc
		t.Run("IGNORE_TERM="+ignore, func(t *testing.T) {
			cmd := Command(sleepChild)
			cmd.Env = append(cmd.Env, "IGNORE_TERM="+ignore)
			if _, err := cmd.StdinPipe(); err != nil { // held open: it never ends by itself
				t.Fatal(err)
			}
			p = Start(t, cmd)
			testenv.Eventually(t, "the child to be ready", func() bool { return p.Stdout.String() == "ready\n" })
		})
		if !p.Exited() || Alive(p.Cmd.Process.Pid) {
			t.Fatalf("IGNORE_TERM=%s: child %d not stopped and reaped by the end of its test", ignore, p.Cmd.Process.Pid)
		}
		want := syscall.SIGTERM
		if ignore == "1" {
			want = syscall.SIGKILL
		}
		if ws := p.Cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != want {
			t.Errorf("IGNORE_TERM=%s: ended with %v, want %v", ignore, p.Cmd.ProcessState, want)
		}
	}
}

func TestBuildOnce(t *testing.T) {
	a, err := Build("tool", "github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fake-llama-server")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build("tool", "github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fake-llama-server")
	if err != nil || b != a {
		t.Fatalf("second Build = %q, %v; want %q again", b, err, a)
	}
	if _, err := Build("tool", "github.com/OpenCircuitDev/ocm-tray/no/such/package"); err == nil {
		t.Fatal("Build of a missing package succeeded")
	}
}
