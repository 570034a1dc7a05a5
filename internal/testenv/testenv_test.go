package testenv

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records what a helper does to its test
// instead of doing it, so a failing or skipping helper can be checked.
type recorder struct {
	testing.TB // only for the private method; anything else not below panics
	cleanups   []func()
	errors     []string
	fatals     []string
	skips      []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.fatals = append(r.fatals, fmt.Sprintf(f, a...)) }
func (r *recorder) Skip(a ...any)             { r.skips = append(r.skips, fmt.Sprint(a...)) }

// end runs the recorded cleanups, last first, as the testing package does.
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestNeedSkipsWithTheInstallLine(t *testing.T) {
	t.Setenv("CI", "")
	r := &recorder{}
	Need(r, "go", "dunstctl-not-here", "ocm-no-such-program")
	if len(r.fatals) != 0 || len(r.skips) != 1 {
		t.Fatalf("fatals %q, skips %q; want one skip", r.fatals, r.skips)
	}
	if want := "dunstctl-not-here, ocm-no-such-program not found; install with: sudo apt-get install --no-install-recommends dunstctl-not-here ocm-no-such-program"; r.skips[0] != want {
		t.Errorf("skip %q, want %q", r.skips[0], want)
	}

	r = &recorder{}
	Need(r, "go")
	if len(r.fatals)+len(r.skips) != 0 {
		t.Errorf("a present program: fatals %q, skips %q", r.fatals, r.skips)
	}
}

func TestNeedNamesTheDebianPackage(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("PATH", t.TempDir()) // nothing is installed
	r := &recorder{}
	Need(r, "Xvfb", "xvfb-run", "dunst", "dunstctl", "/nowhere/notify-send")
	if len(r.skips) != 1 || !strings.HasSuffix(r.skips[0], "sudo apt-get install --no-install-recommends xvfb dunst libnotify-bin") {
		t.Errorf("skips %q, want one installing xvfb dunst libnotify-bin", r.skips)
	}
}

func TestNeedFailsUnderCI(t *testing.T) {
	t.Setenv("CI", "true")
	r := &recorder{}
	Need(r, "ocm-no-such-program")
	if len(r.skips) != 0 || len(r.fatals) != 1 || !strings.Contains(r.fatals[0], "sudo apt-get install --no-install-recommends ocm-no-such-program") {
		t.Fatalf("fatals %q, skips %q; want one failure with the install line", r.fatals, r.skips)
	}
}

func TestNoLeaksSeesALeakedGoroutine(t *testing.T) {
	defer func(d time.Duration) { leakWait = d }(leakWait)
	leakWait = 100 * time.Millisecond
	r := &recorder{}
	NoLeaks(r)
	release := make(chan struct{})
	go func() { <-release }()
	r.end()
	close(release)
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "1 goroutine(s) started during the test") ||
		!strings.Contains(r.errors[0], "TestNoLeaksSeesALeakedGoroutine") {
		t.Fatalf("errors %q, want the leaked goroutine with its stack", r.errors)
	}
}

func TestNoLeaksWaitsForGoroutinesToEnd(t *testing.T) {
	r := &recorder{}
	NoLeaks(r)
	release := make(chan struct{})
	go func() { <-release }()
	time.AfterFunc(50*time.Millisecond, func() { close(release) })
	r.end()
	if len(r.errors) != 0 {
		t.Fatalf("errors %q for a goroutine that ended", r.errors)
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if !Poll(WaitLimit, func() bool { n++; return n == 3 }) || n != 3 {
		t.Fatalf("Poll stopped after %d calls", n)
	}
	// Past the deadline the condition is still looked at once more.
	calls := 0
	if Poll(0, func() bool { calls++; return false }) || calls != 2 {
		t.Fatalf("Poll(0) of a false condition: %d calls, want 2", calls)
	}
}

func TestRecv(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Recv(t, ch, "a number"); got != 7 {
		t.Fatalf("Recv = %d", got)
	}
	done := make(chan struct{})
	close(done)
	Recv(t, done, "a done channel")
}

func TestServeHandlersAndClose(t *testing.T) {
	NoLeaks(t)
	silent := Serve(t, "127.0.0.1:0", NeverAnswer)
	c, err := net.Dial("tcp", silent.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
	// Close ends the handler blocked on the connection, and the client
	// sees the connection end.
	silent.Close()
	c.SetReadDeadline(time.Now().Add(WaitLimit))
	if n, err := c.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Fatalf("read %d, %v from a closed server's connection; want its end", n, err)
	}
	silent.Close() // twice: no harm

	// A port holder: accepts, hangs up.
	holder := Serve(t, "127.0.0.1:0", HangUp)
	c2, err := net.Dial("tcp", holder.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(WaitLimit))
	if _, err := c2.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("HangUp: read %v, want EOF", err)
	}
	if _, err := Listen(holder.Addr, HangUp); err == nil {
		t.Fatal("Listen on a held port succeeded")
	}
}

func TestShortTempDir(t *testing.T) {
	var dir string
	t.Run("make", func(t *testing.T) {
		dir = ShortTempDir(t)
		if len(dir) > 40 {
			t.Errorf("%q is not short", dir)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("%q: %v", dir, err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%q left after the test: %v", dir, err)
	}
}
