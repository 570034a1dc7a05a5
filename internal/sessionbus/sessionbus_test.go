//go:build unix

package sessionbus

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

func TestAddress(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/x")
	if a, err := Address(); err != nil || a != "unix:path=/x" {
		t.Fatalf("from the variable: %q, %v", a, err)
	}

	// The variable unset, XDG_RUNTIME_DIR set: its "bus" socket, as godbus
	// (and so systray) would pick it. A plain file there is no bus.
	dir := testenv.ShortTempDir(t) // short: a socket path must fit
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", dir)
	if err := os.WriteFile(filepath.Join(dir, "bus"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if a, err := Address(); !errors.Is(err, ErrNone) {
		t.Fatalf("a plain file named bus: %q, %v", a, err)
	}
	os.Remove(filepath.Join(dir, "bus"))
	ln, err := net.Listen("unix", filepath.Join(dir, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if a, err := Address(); err != nil || a != "unix:path="+filepath.Join(dir, "bus") {
		t.Fatalf("from XDG_RUNTIME_DIR: %q, %v", a, err)
	}

	// Someone else's socket is no bus of ours.
	if os.Getuid() == 0 {
		if err := os.Chown(filepath.Join(dir, "bus"), 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if a, err := Address(); !errors.Is(err, ErrNone) {
			t.Fatalf("another user's socket taken: %q, %v", a, err)
		}
	}

	// "autolaunch:" is godbus's cue to run dbus-launch: never.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "autolaunch:")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "none"))
	if a, err := Address(); err == nil && a == "autolaunch:" {
		t.Fatal("autolaunch: taken as an address")
	}
}
