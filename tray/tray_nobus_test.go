package tray

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

func TestShowStart(t *testing.T) {
	want := map[status.State]bool{
		status.NotSpawning: true, status.Starting: false, status.Running: false,
		status.Restarting: false, status.FailedAfterMaxRestarts: true, status.Stopped: true,
	}
	for _, s := range status.States {
		if showStart(s) != want[s] {
			t.Errorf("showStart(%s) = %v", s, showStart(s))
		}
	}
}

// runNoBus runs a Tray against an environment without a usable bus and
// checks it waits quietly for ctx, says why once, and never panics.
func runNoBus(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	hub := status.NewHub(status.Status{State: status.NotSpawning, Reason: "starting up"})
	tr := New(hub, Actions{}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	for _, s := range status.States {
		hub.Publish(status.Status{State: s}, time.Now())
	}
	cancel()
	if err := testenv.Recv(t, done, "Run to return after cancel"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	hub.Publish(status.Status{State: status.Stopped}, time.Now()) // after Run: no panic
	if n := strings.Count(buf.String(), "no tray icon"); n != 1 {
		t.Errorf("said %d times why there is no icon:\n%s", n, buf.String())
	}
	if systrayUsed.Load() {
		t.Error("systray was started without a bus")
	}
	t.Logf("log: %s", buf.String())
}

func TestRunWithDeadBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	runNoBus(t)
}

func TestRunWithoutBusAddress(t *testing.T) {
	if u, err := user.Current(); err == nil {
		if _, err := os.Stat("/run/user/" + u.Uid + "/bus"); err == nil {
			t.Skip("this machine has a user bus at /run/user/UID/bus, which counts as a session bus")
		}
	}
	// Unset: godbus would run dbus-launch; the tray must not let it.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("PATH", t.TempDir()) // a dbus-launch, if run, would not be found either way
	runNoBus(t)
}
