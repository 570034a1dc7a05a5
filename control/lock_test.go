package control

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

func TestLock(t *testing.T) {
	dir := testenv.ShortTempDir(t)
	l, err := AcquireLock(filepath.Join(dir, "ocm-tray.lock"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ocm-tray.lock"))
	if err != nil || string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("lock file holds %q, %v; want our pid", b, err)
	}

	// A second open of the file (another agent) is refused and told who
	// holds the lock.
	_, err = AcquireLock(filepath.Join(dir, "ocm-tray.lock"))
	var running *AlreadyRunningError
	if !errors.As(err, &running) || running.PID != os.Getpid() {
		t.Fatalf("second AcquireLock = %v, want AlreadyRunningError{%d}", err, os.Getpid())
	}
	if want := "already running (pid " + strconv.Itoa(os.Getpid()) + ")"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	l2, err := AcquireLock(filepath.Join(dir, "ocm-tray.lock"))
	if err != nil {
		t.Fatalf("AcquireLock after Release: %v", err)
	}
	defer l2.Release()
}

// A leftover file of a crashed agent (a pid, but no lock) does not count.
func TestLockLeftoverFile(t *testing.T) {
	dir := testenv.ShortTempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "ocm-tray.lock"), []byte("999999999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := AcquireLock(filepath.Join(dir, "ocm-tray.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	b, _ := os.ReadFile(filepath.Join(dir, "ocm-tray.lock"))
	if string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("lock file holds %q, want our pid alone", b)
	}
}

func TestLockMissingDir(t *testing.T) {
	if _, err := AcquireLock(filepath.Join(testenv.ShortTempDir(t), "missing", "ocm-tray.lock")); err == nil {
		t.Fatal("AcquireLock in a missing directory: no error")
	}
}
