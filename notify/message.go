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
	// Actions are buttons, where the notification server shows them (it
	// lists the "actions" capability); elsewhere the body ends with what
	// each says Instead.
	Actions []Action
}

// Action is a button on a notification.
type Action struct {
	Key   string // what the server's ActionInvoked carries back: ActionRestart, ...
	Label string // the button's text
	// Instead says the same in words, for a server without buttons: the
	// command to run.
	Instead string
}

// The actions a notification may offer.
const (
	ActionRestart      = "restart"
	ActionOpenLog      = "open-log"
	ActionOpenSettings = "open-settings"
)

var (
	actionRestart = Action{Key: ActionRestart, Label: "Restart",
		Instead: "Once it is fixed, run `ocm-tray restart` (or choose Restart in the tray menu)."}
	actionOpenLog = Action{Key: ActionOpenLog, Label: "Open log",
		Instead: "`ocm-tray logs` shows llama-server's log."}
	actionOpenSettings = Action{Key: ActionOpenSettings, Label: "Open settings",
		Instead: "Open settings in the tray menu opens the settings file; `ocm-tray check` validates it."}
)

// TextBody is the body for a server that shows no buttons: Body, then what
// each action says instead.
func (m Message) TextBody() string {
	lines := []string{m.Body}
	for _, a := range m.Actions {
		lines = append(lines, a.Instead)
	}
	return joinLines(lines...)
}

// howToStart is the advice every "it is not running" message ends with.
const howToStart = "choose Start in the tray menu or run `ocm-tray start`"

// Compose writes the notification for the change from prev to next: what
// happened and, where the user has to act, what to do (in the body, and as
// actions). It never names a file: a path in a notification is either
// temporary or the user's own, and both are better reached by a button or
// a command.
//
// The text is made printable (status.Printable): its fields come from a
// settings file and llama-server's stderr, and a notification server may
// refuse a message that is not valid UTF-8.
func Compose(prev, next status.Status) Message {
	m := compose(prev, next)
	m.Summary, m.Body = status.Printable(m.Summary), status.Printable(m.Body)
	return m
}

func compose(prev, next status.Status) Message {
	if prev.State != "" && prev.State == next.State && !newAttempt(prev, next) &&
		notSpawningCause(prev) == notSpawningCause(next) && settingsErrorAppeared(prev, next) {
		// Only the settings changed: say that, not the state again.
		return Message{
			Summary: "ocm-tray settings are invalid",
			Body:    settingsAdvice(next.SettingsError),
		}
	}
	m := composeState(next)
	if settingsErrorAppeared(prev, next) && notSpawningCause(next) != causeSettings {
		m.Body = joinLines(m.Body, settingsAdvice(next.SettingsError))
	}
	return m
}

func settingsAdvice(err string) string {
	return "Settings file: " + sentence(err) +
		" The last good settings stay in force; run `ocm-tray check` for details."
}

func composeState(s status.Status) Message {
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
			Body:    joinLines(lastError(s), toFix(s), "ocm-tray will start it again shortly."),
		}
	case status.FailedAfterMaxRestarts:
		what := fmt.Sprintf("It failed again after %d restarts.", s.Attempts)
		switch {
		case s.Attempts < s.MaxRestarts && s.Attempts == 0:
			what = "It failed in a way that retrying cannot fix."
		case s.Attempts < s.MaxRestarts:
			what = fmt.Sprintf("It failed again after %d %s, in a way that retrying cannot fix.", s.Attempts, plural(s.Attempts, "restart", "restarts"))
		case s.Attempts == 0:
			what = "It failed, and max_restarts = 0 allows no restart."
		case s.Attempts == 1:
			what = "It failed again after 1 restart."
		}
		return Message{
			Summary:  status.Summary(s),
			Body:     joinLines(what, lastError(s), toFix(s)),
			Critical: true,
			Actions:  []Action{actionRestart, actionOpenLog},
		}
	case status.NotSpawning:
		switch notSpawningCause(s) {
		case causePort:
			fix := "Stop whatever holds the port or change the port in the settings."
			if s.Hint != "" {
				fix = "To fix: " + sentence(s.Hint)
			}
			return Message{
				Summary: "llama-server not started: port in use",
				Body:    joinLines(sentence(s.Reason), fix),
				Actions: []Action{actionOpenSettings},
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

// toFix is the hint as a sentence, or "".
func toFix(s status.Status) string {
	if s.Hint == "" {
		return ""
	}
	return "To fix: " + sentence(s.Hint)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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
