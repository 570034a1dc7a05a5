package status

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestTooltipAndMenuTitle(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", 300)
	cases := []struct {
		name    string
		st      Status
		tooltip string
		menu    string
	}{
		{"not spawning",
			Status{State: NotSpawning, Reason: "model file ~/.local/share/ocm/models/x.gguf not found"},
			"llama-server not started\nWhy: model file ~/.local/share/ocm/models/x.gguf not found",
			"llama-server not started: model file ~/.local/share/ocm/models/x.gguf not found"},
		{"starting",
			Status{State: Starting, PID: 12, Model: "qwen", Since: now.Add(-90 * time.Second)},
			"llama-server starting (pid 12, for 1m)\nModel: qwen",
			"llama-server starting (pid 12, for 1m): qwen"},
		{"running",
			Status{State: Running, PID: 1234, Model: "qwen", Since: now.Add(-(2*time.Hour + 5*time.Minute + 10*time.Second))},
			"llama-server running (pid 1234, up 2h 05m)\nModel: qwen",
			"llama-server running (pid 1234, up 2h 05m): qwen"},
		{"running, just now, no model",
			Status{State: Running, PID: 7, Since: now.Add(-time.Second)},
			"llama-server running (pid 7, up under a minute)",
			"llama-server running (pid 7, up under a minute)"},
		{"restarting",
			Status{State: Restarting, Attempt: 2, MaxRestarts: 3, LastError: "exit status 1: main: couldn't bind HTTP server socket"},
			"llama-server restarting (attempt 2/3)\nLast error: exit status 1: main: couldn't bind HTTP server socket",
			"llama-server restarting (attempt 2/3): exit status 1: main: couldn't bind HTTP…"},
		{"restarting, budget unknown",
			Status{State: Restarting, Attempt: 1},
			"llama-server restarting (attempt 1)",
			"llama-server restarting (attempt 1)"},
		{"failed",
			Status{State: FailedAfterMaxRestarts, Attempts: 3, LastError: "signal: aborted\nfailed to load model"},
			"llama-server failed after 3 restarts\nLast error: signal: aborted\nfailed to load model\nChoose Start or Restart to try again.",
			"llama-server failed after 3 restarts: signal: aborted / failed to load model"},
		{"failed, with what to do",
			Status{State: FailedAfterMaxRestarts, Attempts: 0, LastError: "exited with status 1: error: invalid argument: --bogus", Hint: "remove --bogus from llama_server_args"},
			"llama-server failed\nLast error: exited with status 1: error: invalid argument: --bogus\nTo fix: remove --bogus from llama_server_args\nChoose Start or Restart to try again.",
			"llama-server failed: exited with status 1: error: invalid argument: --bogus"},
		{"failed, one restart",
			Status{State: FailedAfterMaxRestarts, Attempts: 1},
			"llama-server failed after 1 restart\nChoose Start or Restart to try again.",
			"llama-server failed after 1 restart"},
		{"stopped with settings error and warning",
			Status{State: Stopped, SettingsError: "settings.toml:3: ctx_len: must be 0..16777216", Warning: "host 0.0.0.0 is reachable from the network"},
			"llama-server stopped\nSettings error: settings.toml:3: ctx_len: must be 0..16777216\nWarning: host 0.0.0.0 is reachable from the network",
			"llama-server stopped: settings error: settings.toml:3: ctx_len: must be 0..1677…"},
		{"warning only",
			Status{State: Running, PID: 1, Warning: "non-loopback host"},
			"llama-server running (pid 1)\nWarning: non-loopback host",
			"llama-server running (pid 1): warning: non-loopback host"},
		{"running, generating",
			Status{State: Running, PID: 1234, Model: "qwen", Since: now.Add(-(2*time.Hour + 5*time.Minute)), Restarts: 1, URL: "http://127.0.0.1:8080",
				Activity: Activity{SlotsBusy: 1, SlotsTotal: 4, TokensPerSecond: 38.2, RSSBytes: 5_400_000_000}},
			"llama-server running (pid 1234, up 2h 05m)\nGenerating on 1 of 4 slots, 38 tok/s, 5.4 GB\nModel: qwen\nRestarted once since ocm-tray started\nURL: http://127.0.0.1:8080",
			"Generating on 1 of 4 slots, 38 tok/s, 5.4 GB, up 2h 05m, restarted once"},
		{"running, idle, one slot, slow, small",
			Status{State: Running, PID: 7, Since: now.Add(-time.Minute), Restarts: 2, Activity: Activity{SlotsTotal: 1, TokensPerSecond: 4.25, RSSBytes: 27_000_000}},
			"llama-server running (pid 7, up 1m)\nIdle, 4.2 tok/s, 27 MB\nRestarted twice since ocm-tray started",
			"Idle, 4.2 tok/s, 27 MB, up 1m, restarted twice"},
		{"running, the only slot busy",
			Status{State: Running, PID: 7, Activity: Activity{SlotsBusy: 1, SlotsTotal: 1}},
			"llama-server running (pid 7)\nGenerating",
			"Generating"},
		{"running, sleeping",
			Status{State: Running, PID: 7, Sleeping: true, Restarts: 3, Activity: Activity{SlotsTotal: 1, RSSBytes: 900_000}},
			"llama-server running (pid 7)\nSleeping, 900 kB\nRestarted 3 times since ocm-tray started",
			"Sleeping, 900 kB, restarted 3 times"},
		{"days",
			Status{State: Running, PID: 1, Since: now.Add(-(50 * time.Hour))},
			"llama-server running (pid 1, up 2d 2h)",
			"llama-server running (pid 1, up 2d 2h)"},
		{"long error is clipped",
			Status{State: Restarting, Attempt: 1, MaxRestarts: 3, LastError: long},
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
		st   State
		now  time.Duration
		want time.Duration // after since; -1 = never
	}{
		{Running, 10 * time.Second, time.Minute},
		{Running, 61 * time.Second, 2 * time.Minute},
		{Running, 25 * time.Hour, 26 * time.Hour},
		{Starting, 0, time.Minute},
		{Stopped, time.Hour, -1},
	}
	for _, c := range cases {
		got := NextTick(Status{State: c.st, Since: since}, since.Add(c.now))
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

// The texts a person reads carry no terminal escapes or other control
// characters, whatever the fields hold: they come from a settings file and
// from llama-server's stderr, and `ocm-tray status` prints them to a
// terminal.
func TestTextsArePrintable(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	hostile := "a\x1b[2J\x1b]0;owned\x07b\u009b31mc\x00d\re\tf\u202eg\xffh\u2066i"
	for _, st := range []Status{
		{State: NotSpawning, Reason: hostile, Model: hostile, SettingsError: hostile, Warning: hostile},
		{State: Restarting, Attempt: 1, LastError: hostile + "\nsecond line", Model: hostile},
		{State: FailedAfterMaxRestarts, Attempts: 2, LastError: hostile},
		{State: Running, PID: 1, Model: hostile},
		{State: Stopped, Warning: hostile},
	} {
		for name, text := range map[string]string{
			"TooltipAt":   TooltipAt(st, now),
			"MenuTitleAt": MenuTitleAt(st, now),
			"OneLine":     OneLine(st),
		} {
			if !utf8.ValidString(text) {
				t.Errorf("%s(%s) is not UTF-8: %q", name, st.State, text)
			}
			for _, r := range text {
				if (r != '\n' || name != "TooltipAt") && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)) {
					t.Errorf("%s(%s) holds %U: %q", name, st.State, r, text)
					break
				}
			}
		}
	}
	// What is not a control stays readable; each control shows as U+FFFD.
	got := TooltipAt(Status{State: Stopped, Warning: hostile}, now)
	if want := "llama-server stopped\nWarning: a�[2J�]0;owned�b�31mc�d e f�g�h�i"; got != want {
		t.Errorf("TooltipAt:\n got %q\nwant %q", got, want)
	}
}
