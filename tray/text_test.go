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

	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

func TestTooltipAndMenuTitle(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", 300)
	cases := []struct {
		name    string
		st      supervisor.Status
		tooltip string
		menu    string
	}{
		{"not spawning",
			supervisor.Status{State: supervisor.NotSpawning, Reason: "model file ~/.local/share/ocm/models/x.gguf not found"},
			"llama-server not started\nWhy: model file ~/.local/share/ocm/models/x.gguf not found",
			"llama-server not started: model file ~/.local/share/ocm/models/x.gguf not found"},
		{"starting",
			supervisor.Status{State: supervisor.Starting, PID: 12, Model: "qwen", Since: now.Add(-90 * time.Second)},
			"llama-server starting (pid 12, for 1m)\nModel: qwen",
			"llama-server starting (pid 12, for 1m): qwen"},
		{"running",
			supervisor.Status{State: supervisor.Running, PID: 1234, Model: "qwen", Since: now.Add(-(2*time.Hour + 5*time.Minute + 10*time.Second))},
			"llama-server running (pid 1234, up 2h 05m)\nModel: qwen",
			"llama-server running (pid 1234, up 2h 05m): qwen"},
		{"running, just now, no model",
			supervisor.Status{State: supervisor.Running, PID: 7, Since: now.Add(-time.Second)},
			"llama-server running (pid 7, up under a minute)",
			"llama-server running (pid 7, up under a minute)"},
		{"restarting",
			supervisor.Status{State: supervisor.Restarting, Attempt: 2, MaxTries: 3, LastError: "exit status 1: main: couldn't bind HTTP server socket"},
			"llama-server restarting (attempt 2/3)\nLast error: exit status 1: main: couldn't bind HTTP server socket",
			"llama-server restarting (attempt 2/3): exit status 1: main: couldn't bind HTTP…"},
		{"restarting, budget unknown",
			supervisor.Status{State: supervisor.Restarting, Attempt: 1},
			"llama-server restarting (attempt 1)",
			"llama-server restarting (attempt 1)"},
		{"failed",
			supervisor.Status{State: supervisor.FailedAfterMaxRestarts, Attempts: 3, LastError: "signal: aborted\nfailed to load model"},
			"llama-server failed after 3 restarts\nLast error: signal: aborted\nfailed to load model\nChoose Start or Restart to try again.",
			"llama-server failed after 3 restarts: signal: aborted / failed to load model"},
		{"failed, one restart",
			supervisor.Status{State: supervisor.FailedAfterMaxRestarts, Attempts: 1},
			"llama-server failed after 1 restart\nChoose Start or Restart to try again.",
			"llama-server failed after 1 restart"},
		{"stopped with settings error and warning",
			supervisor.Status{State: supervisor.Stopped, SettingsError: "settings.toml:3: ctx_len: must be 0..16777216", Warning: "host 0.0.0.0 is reachable from the network"},
			"llama-server stopped\nSettings error: settings.toml:3: ctx_len: must be 0..16777216\nWarning: host 0.0.0.0 is reachable from the network",
			"llama-server stopped: settings error: settings.toml:3: ctx_len: must be 0..1677…"},
		{"warning only",
			supervisor.Status{State: supervisor.Running, PID: 1, Warning: "non-loopback host"},
			"llama-server running (pid 1)\nWarning: non-loopback host",
			"llama-server running (pid 1): warning: non-loopback host"},
		{"days",
			supervisor.Status{State: supervisor.Running, PID: 1, Since: now.Add(-(50 * time.Hour))},
			"llama-server running (pid 1, up 2d 2h)",
			"llama-server running (pid 1, up 2d 2h)"},
		{"long error is clipped",
			supervisor.Status{State: supervisor.Restarting, Attempt: 1, MaxTries: 3, LastError: long},
			"llama-server restarting (attempt 1/3)\nLast error: " + strings.Repeat("x", tooltipErrMax-1) + "…",
			"llama-server restarting (attempt 1/3): " + strings.Repeat("x", menuTitleMax-len("llama-server restarting (attempt 1/3): ")-1) + "…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := TooltipAt(c.st, now); got != c.tooltip {
				t.Errorf("TooltipAt:\n got %q\nwant %q", got, c.tooltip)
			}
			if got := MenuTitleAt(c.st, now); got != c.menu {
				t.Errorf("MenuTitleAt:\n got %q\nwant %q", got, c.menu)
			}
		})
	}
}

func TestNextTick(t *testing.T) {
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		st   supervisor.State
		now  time.Duration
		want time.Duration // after since; -1 = never
	}{
		{supervisor.Running, 10 * time.Second, time.Minute},
		{supervisor.Running, 61 * time.Second, 2 * time.Minute},
		{supervisor.Running, 25 * time.Hour, 26 * time.Hour},
		{supervisor.Starting, 0, time.Minute},
		{supervisor.Stopped, time.Hour, -1},
	}
	for _, c := range cases {
		got := nextTick(supervisor.Status{State: c.st, Since: since}, since.Add(c.now))
		if c.want < 0 {
			if !got.IsZero() {
				t.Errorf("%s at %v: tick at %v, want none", c.st, c.now, got)
			}
			continue
		}
		if want := since.Add(c.want); !got.Equal(want) {
			t.Errorf("%s at %v: tick at %v, want %v", c.st, c.now, got.Sub(since), c.want)
		}
	}
}

func TestShowStart(t *testing.T) {
	want := map[supervisor.State]bool{
		supervisor.NotSpawning: true, supervisor.Starting: false, supervisor.Running: false,
		supervisor.Restarting: false, supervisor.FailedAfterMaxRestarts: true, supervisor.Stopped: true,
	}
	for _, s := range supervisor.States {
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
	tr := New(Actions{}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	for _, s := range supervisor.States {
		tr.Update(supervisor.Status{State: s})
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	tr.Update(supervisor.Status{State: supervisor.Stopped}) // after Run: no panic
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
