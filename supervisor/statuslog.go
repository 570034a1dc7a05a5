package supervisor

import (
	"log/slog"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// logAttrs are the fields of st worth a log line: the ones its JSON carries,
// so the agent's log says attempts=3 where the status says so, and never
// pid=0 or reason="". An empty last_error is left out too.
func logAttrs(st status.Status) []any {
	attrs := []any{slog.String("state", string(st.State))}
	if st.PID > 0 {
		attrs = append(attrs, slog.Int("pid", st.PID))
	}
	switch st.State {
	case status.NotSpawning:
		if st.Reason != "" {
			attrs = append(attrs, slog.String("reason", st.Reason))
		}
	case status.Restarting:
		attrs = append(attrs, slog.Int("attempt", st.Attempt))
	case status.FailedAfterMaxRestarts:
		attrs = append(attrs, slog.Int("attempts", st.Attempts))
	}
	if (st.State == status.Restarting || st.State == status.FailedAfterMaxRestarts) && st.LastError != "" {
		attrs = append(attrs, slog.String("last_error", st.LastError))
	}
	if st.Hint != "" {
		attrs = append(attrs, slog.String("hint", st.Hint))
	}
	return attrs
}
