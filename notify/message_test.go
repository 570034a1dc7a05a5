package notify

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

func TestCompose(t *testing.T) {
	tests := []struct {
		name       string
		prev, next status.Status
		critical   bool
		summary    []string // each must appear in Summary
		body       []string // each must appear in Body
	}{
		{"failed after max restarts", starting, failed, true,
			[]string{"llama-server", "failed"},
			[]string{
				failed.LastError, "after 3 restarts", // what failed
				"`ocm-tray restart`", "`ocm-tray logs`", // what to do, without buttons
			}},
		{"failed with max_restarts 0", running, status.Status{State: status.FailedAfterMaxRestarts, LastError: "exit status 1"}, true,
			[]string{"failed"},
			[]string{"exit status 1", "max_restarts = 0", "`ocm-tray restart`"}},
		{"failed at once, no retry can fix it", starting, unfixable, true,
			[]string{"failed"},
			[]string{"retrying cannot fix", unfixable.LastError, "To fix: remove it from llama_server_args.", "`ocm-tray restart`"}},
		{"restarting with a hint", running, status.Status{State: status.Restarting, Attempt: 1, MaxRestarts: 3, LastError: "killed by SIGKILL", Hint: "most likely the OOM killer"}, false,
			[]string{"restarting"},
			[]string{"killed by SIGKILL", "To fix: most likely the OOM killer."}},
		{"restarting", running, restarting2, false,
			[]string{"restarting", "attempt 2/3"},
			[]string{"Last error: signal: aborted."}},
		{"running", starting, running, false,
			[]string{"running"},
			[]string{"Model tiny", "pid 10"}},
		{"starting", placeholder, starting, false,
			[]string{"starting"},
			[]string{"Model tiny", "pid 10"}},
		{"port conflict", placeholder, portBusy, false,
			[]string{"port in use"},
			[]string{portBusy.Reason, "change the port", "Open settings in the tray menu"}},
		{"port conflict with a hint", placeholder, withHint(portBusy, "another program holds port 8080"), false,
			[]string{"port in use"},
			[]string{portBusy.Reason, "To fix: another program holds port 8080."}},
		{"invalid settings", gateRefused, badSettings, false,
			[]string{"invalid settings"},
			[]string{badSettings.SettingsError, "`ocm-tray check`"}},
		{"gate refusal", placeholder, gateRefused, false,
			[]string{"not started"},
			[]string{gateRefused.Reason}},
		{"stopped", running, stopped, false,
			[]string{"stopped"},
			[]string{"Start in the tray menu", "`ocm-tray start`"}},
		{"settings error alone", running, runningBadFile, false,
			[]string{"settings are invalid"},
			[]string{runningBadFile.SettingsError, "last good settings", "`ocm-tray check`"}},
		{"settings error with a state change", starting, runningBadFile, false,
			[]string{"running"},
			[]string{"pid 10", runningBadFile.SettingsError, "last good settings"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Compose(tt.prev, tt.next)
			m.Body = m.TextBody() // what a server without buttons shows
			if m.Critical != tt.critical {
				t.Errorf("Critical = %v, want %v", m.Critical, tt.critical)
			}
			for _, s := range tt.summary {
				if !strings.Contains(strings.ToLower(m.Summary), strings.ToLower(s)) {
					t.Errorf("Summary %q lacks %q", m.Summary, s)
				}
			}
			for _, s := range tt.body {
				if !strings.Contains(strings.ToLower(m.Body), strings.ToLower(s)) {
					t.Errorf("Body %q lacks %q", m.Body, s)
				}
			}
		})
	}
}

// Only failed_after_max_restarts needs the user badly enough to stay on
// screen.
func TestComposeCriticalOnlyForFailed(t *testing.T) {
	for _, s := range []status.Status{placeholder, gateRefused, portBusy, badSettings, starting,
		running, restarting1, restarting2, failed, stopped, runningBadFile} {
		if got, want := Compose(status.Status{}, s).Critical, s.State == status.FailedAfterMaxRestarts; got != want {
			t.Errorf("%s: Critical = %v, want %v", s.State, got, want)
		}
	}
}

// The failure offers Restart and Open log, a port conflict Open settings,
// and nothing else offers buttons; every button's text fallback names a
// command.
func TestComposeActions(t *testing.T) {
	keys := func(m Message) []string {
		var k []string
		for _, a := range m.Actions {
			k = append(k, a.Key)
			if !strings.Contains(a.Instead, "`ocm-tray ") {
				t.Errorf("%s: the text instead of the button names no command: %q", a.Key, a.Instead)
			}
		}
		return k
	}
	if got := keys(Compose(starting, failed)); !slices.Equal(got, []string{ActionRestart, ActionOpenLog}) {
		t.Errorf("failed: actions %v", got)
	}
	if got := keys(Compose(placeholder, portBusy)); !slices.Equal(got, []string{ActionOpenSettings}) {
		t.Errorf("port conflict: actions %v", got)
	}
	for _, s := range []status.Status{gateRefused, badSettings, starting, running, restarting1, stopped, runningBadFile} {
		if got := keys(Compose(placeholder, s)); len(got) != 0 {
			t.Errorf("%s: actions %v", s.State, got)
		}
	}
}

// No notification names a file: neither the log nor anything temporary.
func TestComposeNamesNoPath(t *testing.T) {
	for _, s := range []status.Status{placeholder, gateRefused, portBusy, badSettings, starting,
		running, restarting1, restarting2, failed, unfixable, stopped, runningBadFile} {
		for _, prev := range []status.Status{{}, starting, running} {
			m := Compose(prev, s)
			text := m.Summary + "\n" + m.TextBody()
			for _, bad := range []string{"~/", "/tmp", os.TempDir(), ".log", "/.local/"} {
				if strings.Contains(text, bad) {
					t.Errorf("%s after %s names a path (%q):\n%s", s.State, prev.State, bad, text)
				}
			}
		}
	}
}

func TestComposeIsPrintable(t *testing.T) {
	bad := status.Status{State: status.FailedAfterMaxRestarts, Attempts: 1, MaxRestarts: 1,
		LastError: "exited with status 1: \x1b[31mred\x1b[0m \u202egnp.exe \xff"}
	m := Compose(status.Status{}, bad)
	if !utf8.ValidString(m.Body) || strings.ContainsAny(m.Body, "\x1b\u202e") {
		t.Fatalf("body not printable: %q", m.Body)
	}
}
