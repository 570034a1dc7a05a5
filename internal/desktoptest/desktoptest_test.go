//go:build linux

package desktoptest

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

func TestDesktopComesUpAndGoesAway(t *testing.T) {
	var pids []int
	t.Run("up", func(t *testing.T) {
		d := Start(t)
		testenv.Need(t, "notify-send")
		if !d.HasName(WatcherName) || !d.HasName(NotificationsName) {
			t.Fatal("watcher or notification server missing")
		}
		items, err := d.RegisteredItems()
		if err != nil {
			t.Fatalf("RegisteredItems: %v", err)
		}
		t.Logf("items at start: %q", items)
		owner := d.NameOwner(WatcherName)
		d.RestartPanel()
		if d.NameOwner(WatcherName) == owner {
			t.Error("the watcher has the same owner after RestartPanel")
		}
		if err := d.Screenshot(filepath.Join(t.TempDir(), "s.png")); err != nil {
			t.Error(err)
		}
		// notify-send through dunst proves the environment reaches clients.
		cmd := exec.Command("notify-send", "-t", "1000", "hello")
		cmd.Env = d.Env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("notify-send: %v: %s", err, out)
		}
		d.grp.mu.Lock()
		for _, c := range d.grp.cmds {
			pids = append(pids, c.Process.Pid)
		}
		d.grp.mu.Unlock()
	})
	for _, pid := range pids {
		if syscall.Kill(-pid, 0) == nil {
			t.Errorf("process group %d still has processes after cleanup", pid)
		}
	}
}

// A bare bus activates nothing, even a name a service file on this machine
// offers (dunst's org.freedesktop.Notifications, where it is installed):
// only what the test starts answers. And it comes back at the same address
// after Restart.
func TestBusActivatesNothingAndRestarts(t *testing.T) {
	testenv.NoLeaks(t)
	b := StartBus(t)
	call := b.Conn().Object(NotificationsName, "/org/freedesktop/Notifications").Call(
		"org.freedesktop.Notifications.GetCapabilities", 0)
	var dbusErr dbus.Error
	if call.Err == nil {
		t.Fatal("a call to the notification server was answered on a bus with no server")
	} else if e, ok := call.Err.(dbus.Error); ok {
		dbusErr = e
	}
	if dbusErr.Name != "org.freedesktop.DBus.Error.ServiceUnknown" {
		t.Fatalf("call to an absent name: %v, want ServiceUnknown (nothing activated)", call.Err)
	}

	old := b.Conn()
	b.Restart()
	if err := old.BusObject().Call("org.freedesktop.DBus.GetId", 0).Err; err == nil {
		t.Error("a connection to the old bus still works after Restart")
	}
	conn, err := dbus.Connect(b.Address)
	if err != nil {
		t.Fatalf("connect to the restarted bus at %s: %v", b.Address, err)
	}
	defer conn.Close()
	if !b.HasName(conn.Names()[0]) {
		t.Error("the restarted bus does not know a new connection")
	}
}

func TestSilentNotifierNeverReplies(t *testing.T) {
	b := StartBus(t)
	n := StartSilentNotifier(t, b.Address)
	call := b.Conn().Object(NotificationsName, "/org/freedesktop/Notifications").Go(
		"org.freedesktop.Notifications.Notify", 0, nil,
		"app", uint32(0), "", "summary", "body", []string{}, map[string]any{}, int32(-1))
	testenv.Recv(t, n.Calls(), "the notifier to see the call")
	select {
	case c := <-call.Done:
		t.Fatalf("got a reply: %v", c.Err)
	case <-time.After(200 * time.Millisecond): // absence of a reply: nothing to wait for
	}
	if got := n.Count(); got != 1 {
		t.Errorf("Count = %d", got)
	}
}
