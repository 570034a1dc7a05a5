//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package control

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// The socket is 0600 even under a permissive umask.
func TestSocketMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(socketDir(t), "ocm-tray.sock")
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
