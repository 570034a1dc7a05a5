package supervisor

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

func TestLogAttrsCarryWhatTheStatusCarries(t *testing.T) {
	for _, tc := range []struct {
		st   status.Status
		want string
	}{
		{status.Status{State: status.NotSpawning, Reason: "model file x.gguf not found"}, `state=not_spawning reason="model file x.gguf not found"`},
		{status.Status{State: status.NotSpawning}, `state=not_spawning`},
		{status.Status{State: status.Starting, PID: 42}, `state=starting pid=42`},
		{status.Status{State: status.Running, PID: 42, Model: "x"}, `state=running pid=42`},
		{status.Status{State: status.Restarting, Attempt: 2, LastError: "exit status 1"}, `state=restarting attempt=2 last_error="exit status 1"`},
		{status.Status{State: status.FailedAfterMaxRestarts, Attempts: 3, Attempt: 0, LastError: "killed by SIGKILL"}, `state=failed_after_max_restarts attempts=3 last_error="killed by SIGKILL"`},
		// max_restarts = 0: the JSON says attempts 0, and so does the log.
		{status.Status{State: status.FailedAfterMaxRestarts}, `state=failed_after_max_restarts attempts=0`},
		{status.Status{State: status.Stopped}, `state=stopped`},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey {
					return slog.Attr{}
				}
				return a
			},
		}))
		log.Info("status", logAttrs(tc.st)...)
		if got := strings.TrimSpace(buf.String()); got != tc.want {
			t.Errorf("%+v logs\n  %s\nwant\n  %s", tc.st, got, tc.want)
		}
	}
}
