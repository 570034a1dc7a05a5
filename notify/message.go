package notify

import (
	"fmt"
	"strings"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// Message is one desktop notification.
type Message struct {
	Summary string
	Body    string
	// Critical marks a notification that needs the user: it is sent with
	// critical urgency and stays on screen until dismissed.
	Critical bool
}

// howToStart is the advice every "it is not running" message ends with.
const howToStart = "choose Start in the tray menu or run `ocm-tray start`"

// Compose writes the notification for the change from prev to next: what
// happened and, where the user has to act, what to do.
// logPath is the server's log file, named where the user should look; empty
// names the command that prints it.
//
// The text is made printable (status.Printable): its fields come from a
// settings file and llama-server's stderr, and a notification server may
// refuse a message that is not valid UTF-8.
func Compose(prev, next status.Status, logPath string) Message {
	m := compose(prev, next, logPath)
	m.Summary, m.Body = status.Printable(m.Summary), status.Printable(m.Body)
	return m
}

func compose(prev, next status.Status, logPath string) Message {
	if prev.State != "" && prev.State == next.State && !newAttempt(prev, next) &&
		notSpawningCause(prev) == notSpawningCause(next) && settingsErrorAppeared(prev, next) {
		// Only the settings changed: say that, not the state again.
		return Message{
			Summary: "ocm-tray settings are invalid",
			Body:    settingsAdvice(next.SettingsError),
		}
	}
	m := composeState(next, logPath)
	if settingsErrorAppeared(prev, next) && notSpawningCause(next) != causeSettings {
		m.Body = joinLines(m.Body, settingsAdvice(next.SettingsError))
	}
	return m
}

func settingsAdvice(err string) string {
	return "Settings file: " + sentence(err) +
		" The last good settings stay in force; run `ocm-tray check` for details."
}

func composeState(s status.Status, logPath string) Message {
	switch s.State {
	case status.Running:
		return Message{Summary: status.Summary(s), Body: modelAndPID(s)}
	case status.Starting:
		return Message{
			Summary: status.Summary(s),
			Body:    joinLines(modelAndPID(s), "Loading the model can take a while."),
		}
	case status.Restarting:
		return Message{
			Summary: status.Summary(s),
			Body:    joinLines(lastError(s), "ocm-tray will start it again shortly."),
		}
	case status.FailedAfterMaxRestarts:
		what := fmt.Sprintf("It failed again after %d restarts.", s.Attempts)
		switch s.Attempts {
		case 0:
			what = "It failed, and max_restarts = 0 allows no restart."
		case 1:
			what = "It failed again after 1 restart."
		}
		return Message{
			Summary:  status.Summary(s),
			Body:     joinLines(what, lastError(s), fmt.Sprintf("Check %s, fix the cause, then %s.", logWhere(logPath), howToStart)),
			Critical: true,
		}
	case status.NotSpawning:
		switch notSpawningCause(s) {
		case causePort:
			return Message{
				Summary: "llama-server not started: port in use",
				Body:    joinLines(sentence(s.Reason), "Stop whatever holds the port or change port in the settings."),
			}
		case causeSettings:
			return Message{
				Summary: "llama-server not started: invalid settings",
				Body: joinLines(sentence(s.Reason), "Settings file: "+sentence(s.SettingsError),
					"Fix the settings file; run `ocm-tray check` for details."),
			}
		}
		return Message{Summary: status.Summary(s), Body: sentence(s.Reason)}
	case status.Stopped:
		return Message{
			Summary: status.Summary(s),
			Body:    "To start it again, " + howToStart + ".",
		}
	}
	return Message{Summary: "llama-server: " + string(s.State)}
}

// logWhere names the server's log for a message.
func logWhere(logPath string) string {
	if logPath == "" {
		return "the server's log (`ocm-tray logs`)"
	}
	return logPath
}

func modelAndPID(s status.Status) string {
	var parts []string
	if s.Model != "" {
		parts = append(parts, "Model "+s.Model)
	}
	if s.PID > 0 {
		parts = append(parts, fmt.Sprintf("pid %d", s.PID))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + "."
}

func lastError(s status.Status) string {
	if s.LastError == "" {
		return ""
	}
	return "Last error: " + sentence(s.LastError)
}

// sentence trims s and ends it with a full stop unless it ends in one.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

func joinLines(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}
