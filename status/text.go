package status

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Length limits. A tooltip may wrap over a few lines; the menu's status line
// is one line, and a menu as wide as a long stderr line is useless.
const (
	tooltipErrMax = 200
	menuTitleMax  = 80
)

// Tooltip is the tray icon's tooltip for a status: what llama-server is
// doing, then one line each for the model, the last error or the gate's
// reason, a settings error and a warning, where present.
func Tooltip(st Status) string { return TooltipAt(st, time.Now()) }

// MenuTitle is the menu's disabled first line for a status: the same as the
// tooltip's first line, followed by the most important detail, on one line.
func MenuTitle(st Status) string { return MenuTitleAt(st, time.Now()) }

// OneLine is the tooltip folded onto one line, for a stream of statuses
// (`ocm-tray status --watch`).
func OneLine(st Status) string { return strings.ReplaceAll(Tooltip(st), "\n", "; ") }

// TooltipAt is Tooltip with the clock passed in (uptime is now - Since).
func TooltipAt(st Status, now time.Time) string {
	lines := []string{headline(st, now)}
	if st.State == Running {
		if a := ActivityText(st); a != "" {
			lines = append(lines, capitalise(a))
		}
	}
	if st.Model != "" {
		lines = append(lines, "Model: "+st.Model)
	}
	if st.State == Running {
		if st.Restarts > 0 {
			lines = append(lines, capitalise(restartsText(st.Restarts))+" since ocm-tray started")
		}
		if st.URL != "" {
			lines = append(lines, "URL: "+st.URL)
		}
	}
	switch st.State {
	case NotSpawning:
		if st.Reason != "" {
			lines = append(lines, "Why: "+clip(st.Reason, tooltipErrMax))
		}
	case Restarting, FailedAfterMaxRestarts:
		if st.LastError != "" {
			lines = append(lines, "Last error: "+clip(st.LastError, tooltipErrMax))
		}
	}
	if st.Hint != "" {
		lines = append(lines, "To fix: "+clip(st.Hint, tooltipErrMax))
	}
	if st.State == FailedAfterMaxRestarts {
		lines = append(lines, "Choose Start or Restart to try again.")
	}
	if st.SettingsError != "" {
		lines = append(lines, "Settings error: "+clip(st.SettingsError, tooltipErrMax))
	}
	if st.Warning != "" {
		lines = append(lines, "Warning: "+clip(st.Warning, tooltipErrMax))
	}
	return Printable(strings.Join(lines, "\n"))
}

// MenuTitleAt is MenuTitle with the clock passed in. While running with
// the live view on it reads "Generating on 1 of 4 slots, 38 tok/s, 5.4 GB,
// up 2h 05m, restarted once".
func MenuTitleAt(st Status, now time.Time) string {
	if a := ActivityText(st); st.State == Running && a != "" {
		parts := []string{a}
		if !st.Since.IsZero() {
			parts = append(parts, "up "+Duration(now.Sub(st.Since)))
		}
		if st.Restarts > 0 {
			parts = append(parts, restartsText(st.Restarts))
		}
		return clip(capitalise(strings.Join(parts, ", ")), menuTitleMax)
	}
	s := headline(st, now)
	var detail string
	switch {
	case st.State == NotSpawning && st.Reason != "":
		detail = st.Reason
	case (st.State == Restarting || st.State == FailedAfterMaxRestarts) && st.LastError != "":
		detail = st.LastError
	case st.SettingsError != "":
		detail = "settings error: " + st.SettingsError
	case st.Warning != "":
		detail = "warning: " + st.Warning
	case st.Model != "":
		detail = st.Model
	}
	if detail != "" {
		s += ": " + oneLine(detail)
	}
	return Printable(clip(s, menuTitleMax))
}

// Summary is the status in a few words, the same everywhere a person
// reads it: "llama-server running", "llama-server restarting (attempt 2/3)".
// Notifications use it as their title; Headline adds pid and uptime.
func Summary(st Status) string {
	switch st.State {
	case NotSpawning:
		return "llama-server not started"
	case Starting:
		return "llama-server starting"
	case Running:
		return "llama-server running"
	case Restarting:
		if st.MaxRestarts > 0 {
			return fmt.Sprintf("llama-server restarting (attempt %d/%d)", st.Attempt, st.MaxRestarts)
		}
		return fmt.Sprintf("llama-server restarting (attempt %d)", st.Attempt)
	case FailedAfterMaxRestarts:
		// No restart at all: max_restarts = 0, or a failure no retry fixes.
		if st.Attempts == 0 {
			return "llama-server failed"
		}
		return fmt.Sprintf("llama-server failed after %d %s", st.Attempts, plural(st.Attempts, "restart", "restarts"))
	case Stopped:
		return "llama-server stopped"
	}
	return "llama-server: " + string(st.State)
}

// headline is Summary plus pid and uptime.
func headline(st Status, now time.Time) string {
	s := Summary(st)
	var extra []string
	if st.PID > 0 {
		extra = append(extra, fmt.Sprintf("pid %d", st.PID))
	}
	if !st.Since.IsZero() && (st.State == Running || st.State == Starting) {
		d := now.Sub(st.Since)
		if st.State == Running {
			extra = append(extra, "up "+Duration(d))
		} else {
			extra = append(extra, "for "+Duration(d))
		}
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

// ActivityText says in words what a running server is doing, as far as it
// tells: "generating on 1 of 4 slots, 38 tok/s, 5.4 GB", "idle, 27 MB",
// "sleeping". Empty when nothing is known (or the server is not running).
func ActivityText(st Status) string {
	if st.State != Running {
		return ""
	}
	a := st.Activity
	var parts []string
	switch {
	case st.Sleeping:
		parts = append(parts, "sleeping")
	case a.Busy() && a.SlotsTotal == 1:
		parts = append(parts, "generating")
	case a.Busy():
		parts = append(parts, fmt.Sprintf("generating on %d of %d slots", a.SlotsBusy, a.SlotsTotal))
	case a.SlotsTotal > 0:
		parts = append(parts, "idle")
	}
	if a.TokensPerSecond > 0 {
		if a.TokensPerSecond >= 10 {
			parts = append(parts, fmt.Sprintf("%.0f tok/s", a.TokensPerSecond))
		} else {
			parts = append(parts, fmt.Sprintf("%.1f tok/s", a.TokensPerSecond))
		}
	}
	if a.RSSBytes > 0 {
		parts = append(parts, Bytes(a.RSSBytes))
	}
	return strings.Join(parts, ", ")
}

// Bytes writes a memory size the way a person reads it, in decimal units:
// "5.4 GB", "27 MB".
func Bytes(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
}

// restartsText is "restarted once", "restarted twice", "restarted 3 times".
func restartsText(n int) string {
	switch n {
	case 1:
		return "restarted once"
	case 2:
		return "restarted twice"
	}
	return fmt.Sprintf("restarted %d times", n)
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Duration writes an uptime to the minute, the way a person reads it:
// "under a minute", "7m", "2h 05m", "3d 4h".
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

// NextTick is when the text for st next changes on its own (the uptime's
// next minute), or the zero time if it never does.
func NextTick(st Status, now time.Time) time.Time {
	if st.Since.IsZero() || (st.State != Running && st.State != Starting) {
		return time.Time{}
	}
	d := now.Sub(st.Since)
	if d < 0 {
		return st.Since.Add(time.Minute)
	}
	step := time.Minute
	if d >= 24*time.Hour {
		step = time.Hour
	}
	return st.Since.Add((d/step + 1) * step)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// oneLine joins the lines of s with " / " and drops blank ones.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " / ")
}

// Printable replaces what a terminal or a tray would act on rather than
// show: control characters (a terminal escape starts with ESC or the C1
// CSI), the bidirectional controls that reorder what is shown, and bytes
// that are not UTF-8 all become U+FFFD; tabs and carriage returns become
// spaces. Newlines stay: they separate the tooltip's lines. The fields come
// from a settings file and from llama-server's stderr, and `ocm-tray
// status` prints this text to a terminal.
func Printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, unwanted) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s { // an invalid byte comes as utf8.RuneError, U+FFFD
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == '\t' || r == '\r':
			b.WriteByte(' ')
		case unwanted(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unwanted reports whether r is a character Printable replaces.
func unwanted(r rune) bool {
	return r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r))
}

// clip shortens s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}
