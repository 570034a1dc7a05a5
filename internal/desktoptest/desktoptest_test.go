//go:build linux

package desktoptest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDesktopComesUpAndGoesAway(t *testing.T) {
	var pids []int
	t.Run("up", func(t *testing.T) {
		d := Start(t)
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

func TestSilentNotifierNeverReplies(t *testing.T) {
	b := StartBus(t)
	n := StartSilentNotifier(t, b.Address)
	call := b.Conn().Object(NotificationsName, "/org/freedesktop/Notifications").Go(
		"org.freedesktop.Notifications.Notify", 0, nil,
		"app", uint32(0), "", "summary", "body", []string{}, map[string]any{}, int32(-1))
	select {
	case <-n.Calls():
	case <-time.After(10 * time.Second):
		t.Fatal("the notifier saw no call")
	}
	select {
	case c := <-call.Done:
		t.Fatalf("got a reply: %v", c.Err)
	case <-time.After(200 * time.Millisecond): // absence of a reply: nothing to wait for
	}
	if got := n.Count(); got != 1 {
		t.Errorf("Count = %d", got)
	}
	_ = strings.TrimSpace
}
