// Package testenv is what the tests of every package share about their
// surroundings: how long to wait for something that should happen, how to
// poll for it, what they ask of the machine and how they bow out when it
// cannot give it (skipped locally with the reason, failed under CI=true),
// the goroutine leak check, how much memory a call allocates, and small
// fixtures (free ports, short temporary directories, a tmpfs to fill, named
// pipes, throw-away TCP servers).
//
// Waits are generous on purpose. The tests run on loaded two-core machines
// under the race detector, where a child process can take seconds to start;
// a wait bounds a hang, it never measures speed. A test that needs time
// itself to be the point uses testing/synctest instead.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// WaitLimit bounds every wait for something that should happen soon: a
// process starting, a message arriving, a goroutine ending. Passing tests
// never wait this long; it only decides how long a broken one takes to
// fail.
const WaitLimit = 30 * time.Second

// pollEvery is the pause between two looks at a condition: short enough to
// notice a change promptly, long enough not to add to the machine's load.
const pollEvery = 5 * time.Millisecond

// Poll calls cond until it returns true or d has passed, and reports
// whether it did. Use it for what has no event to wait on (another
// process's state, a file another process writes); cond is called once
// more after the deadline, so a slow machine never fails a check that holds.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return cond()
		}
		time.Sleep(pollEvery) // polling: there is no event for this
	}
}

// Eventually polls cond until it holds, and fails the test if it does not
// within WaitLimit. what names the condition in the failure.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Poll(WaitLimit, cond) {
		t.Fatalf("waited %v for %s", WaitLimit, what)
	}
}

// Recv receives one value from ch, failing the test if none arrives within
// WaitLimit. what names the value in the failure. A closed channel gives
// the zero value, as a receive does: a done channel is waited for the same
// way.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(WaitLimit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("waited %v for %s", WaitLimit, what)
	}
	panic("unreachable")
}

// debianPackage names the Debian/Ubuntu package of each program the test
// beds use, for the install line of a skipped test.
var debianPackage = map[string]string{
	"ps":                     "procps",
	"wine64":                 "wine64",
	"wineserver":             "wine64",
	"x86_64-w64-mingw32-gcc": "gcc-mingw-w64-x86-64-win32",
	"dbus-daemon":            "dbus",
	"dbus-run-session":       "dbus",
	"dbus-send":              "dbus",
	"desktop-file-validate":  "desktop-file-utils",
	"dunst":                  "dunst",
	"dunstctl":               "dunst",
	"import":                 "imagemagick",
	"notify-send":            "libnotify-bin",
	"xclip":                  "xclip",
	"xfce4-panel":            "xfce4-panel",
	"Xvfb":                   "xvfb",
	"xvfb-run":               "xvfb",
}

// Need makes sure the programs of a test bed are installed: names looked
// up on PATH, or absolute paths. When one is missing the test is skipped
// with the apt-get line that installs it, except under CI=true: CI installs
// the whole test bed, so there a missing program is a broken CI image and
// fails the test instead of hiding it.
func Need(t testing.TB, progs ...string) {
	t.Helper()
	var missing, pkgs []string
	for _, p := range progs {
		if _, err := exec.LookPath(p); err == nil {
			continue
		}
		missing = append(missing, p)
		pkg := debianPackage[filepath.Base(p)]
		if pkg == "" {
			pkg = filepath.Base(p)
		}
		if !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	Skip(t, fmt.Sprintf("%s not found; install with: sudo apt-get install --no-install-recommends %s", strings.Join(missing, ", "), strings.Join(pkgs, " ")))
}

// Skip skips t with reason, except under CI=true, where it fails t: CI
// provides the whole test bed (programs, root), so there a skip would hide
// a broken one. reason says what is missing and how to provide it.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (under CI=true this fails the test instead of skipping it)", reason)
		return
	}
	t.Skip(reason)
}

// NeedRoot skips t (fails it under CI=true) unless the test runs as root,
// which tests that act as a second user need: only root can start a process
// under another uid or give a file away.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root to act as a second user (uid 65534); run the tests as root, as CI does")
	}
}

// OtherUID and OtherGID are the second user such tests act as: nobody and
// nogroup on Debian, and unused by anything else a test touches.
const (
	OtherUID = 65534
	OtherGID = 65534
)

// ShortTempDir is a temporary directory with a short path, removed when
// the test ends: a unix socket path must fit in about 108 bytes, which
// t.TempDir() paths can exceed.
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ocm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Allocated returns the bytes f allocates. Run it where no other test
// allocates meanwhile (not in parallel), so that the difference is f's,
// give or take a little from the runtime itself.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
