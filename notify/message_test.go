package notify

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// testLogPath stands for the server's log the agent passes in.
const testLogPath = "~/.local/state/ocm/llama-server.log"

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
				"check " + testLogPath, "fix the cause", "Start in the tray menu", "`ocm-tray start`", // what to do
			}},
		{"failed with max_restarts 0", running, status.Status{State: status.FailedAfterMaxRestarts, LastError: "exit status 1"}, true,
			[]string{"failed"},
			[]string{"exit status 1", "max_restarts = 0", "`ocm-tray start`"}},
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
			[]string{portBusy.Reason, "change port"}},
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
			m := Compose(tt.prev, tt.next, testLogPath)
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
		if got, want := Compose(status.Status{}, s, testLogPath).Critical, s.State == status.FailedAfterMaxRestarts; got != want {
			t.Errorf("%s: Critical = %v, want %v", s.State, got, want)
		}
	}
}

func TestComposeLogPath(t *testing.T) {
	m := Compose(starting, failed, `C:\Users\me\AppData\Local\ocm\llama-server.log`)
	if !strings.Contains(m.Body, `C:\Users\me\AppData\Local\ocm\llama-server.log`) {
		t.Errorf("Body %q does not name the log path given", m.Body)
	}
}

func TestComposeWithoutLogPathNamesTheCommand(t *testing.T) {
	m := Compose(status.Status{}, status.Status{State: status.FailedAfterMaxRestarts, Attempts: 3, MaxRestarts: 3, LastError: "x"}, "")
	if !strings.Contains(m.Body, "`ocm-tray logs`") {
		t.Fatalf("body %q does not name `ocm-tray logs`", m.Body)
	}
}

func TestComposeIsPrintable(t *testing.T) {
	bad := status.Status{State: status.FailedAfterMaxRestarts, Attempts: 1, MaxRestarts: 1,
		LastError: "exited with status 1: \x1b[31mred\x1b[0m \u202egnp.exe \xff"}
	m := Compose(status.Status{}, bad, testLogPath)
	if !utf8.ValidString(m.Body) || strings.ContainsAny(m.Body, "\x1b\u202e") {
		t.Fatalf("body not printable: %q", m.Body)
	}
}
