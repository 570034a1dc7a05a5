//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package control

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// The socket is 0600 even under a permissive umask.
func TestSocketMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(testenv.ShortTempDir(t), "ocm-tray.sock")
	srv, err := Listen(path, newFakeAgent(status.Status{}).source(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600 socket", fi.Mode())
	}
}

// A socket path too long for a unix socket gets one sentence naming the
// path and the fix, from Listen and from Dial alike; the longest path that
// fits works.
func TestSocketPathTooLong(t *testing.T) {
	testenv.NoLeaks(t)
	dir := testenv.ShortTempDir(t)
	fits := filepath.Join(dir, strings.Repeat("d", maxSocketPath-len(dir)-len("/")-len("/s/ocm-tray.sock")), "s", "ocm-tray.sock")
	if len(fits) != maxSocketPath {
		t.Fatalf("test path is %d bytes, want %d", len(fits), maxSocketPath)
	}
	if err := os.MkdirAll(filepath.Dir(fits), 0o700); err != nil {
		t.Fatal(err)
	}
	ts := startServerAt(t, fits)
	if _, err := dialT(t, ts.path).Status(ctxT(t)); err != nil {
		t.Fatalf("a %d-byte socket path: %v", len(fits), err)
	}

	long := filepath.Join(filepath.Dir(fits), "ocm-tray.sock.")
	want := fmt.Sprintf("the control socket path %s is %d bytes, more than the %d a unix socket allows: set XDG_RUNTIME_DIR to a shorter directory", long, len(long), maxSocketPath)
	if _, err := Listen(long, newFakeAgent(status.Status{}).source(), nil, nil); err == nil || err.Error() != want {
		t.Errorf("Listen(%d bytes) = %v\nwant %s", len(long), err, want)
	}
	if _, err := Dial(long); err == nil || err.Error() != want || errors.Is(err, ErrNoAgent) {
		t.Errorf("Dial(%d bytes) = %v\nwant %s", len(long), err, want)
	}
}
