// Package testenv is what tests ask of the machine they run on (and how
// much memory a call allocates), and how they bow out when the machine
// cannot give it: skipped locally, with the reason, but failed under
// CI=true, where a skip would hide a broken test bed.
package testenv

import (
	"os"
	"runtime"
	"testing"
)

// Skip skips t with reason, or fails it when CI=true.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason + " (CI=true makes this a failure)")
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
