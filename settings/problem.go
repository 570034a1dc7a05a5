package settings

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on what a report says, so that a huge or hostile file cannot turn
// `ocm-tray check`, the log or the status' settings_error into megabytes:
// 20,000 flags in llama_server_args once made a 4 MB report, and a long
// value was quoted whole in every message about it.
const (
	// MaxQuoted is how many bytes of a value (or a key) a message quotes.
	MaxQuoted = 200
	// MaxProblems is how many problems a report lists; the last one then
	// says how many more there are.
	MaxProblems = 50
	// MaxErrorText bounds ErrorText, the settings_error of the status.
	MaxErrorText = 2048
	// maxText bounds a problem's message and fix, which quote at most a
	// couple of values each; it only guards against a quote forgotten.
	maxText = 4 * MaxQuoted
)

// Problem is one thing wrong with a settings file, told so that a person can
// fix it: where (File, Line, Key), what (Msg) and how (Fix).
type Problem struct {
	File    string // the settings file, as the user named it
	Line    int    // 1-based; 0 = unknown (the key is absent, or the file unreadable)
	Key     string // dotted key path such as "supervisor.max_backoff"; "" when none applies
	Msg     string // what is wrong
	Fix     string // what to do about it
	Warning bool   // true: reported, but the settings are still used

	// moreErrors is, for the last problem of a report cut to MaxProblems,
	// how many errors it stands for (0 for any other problem).
	moreErrors int
}

// String formats the problem as `PATH:LINE: KEY: problem; fix`, the format of
// compilers and linters that editors already know how to jump to. ":LINE" is
// left out when the line is unknown, "KEY: " when no key applies.
//
// The key is cut to MaxQuoted bytes, the message and the fix to a few
// times that: the key comes from the file, and however it is written, one
// problem stays one readable line.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(clip(p.Key, MaxQuoted))
		b.WriteString(": ")
	}
	b.WriteString(clip(p.Msg, maxText))
	if p.Fix != "" {
		b.WriteString("; ")
		b.WriteString(clip(p.Fix, maxText))
	}
	return b.String()
}

// clip cuts s to at most n bytes, on a character boundary, marking the cut
// with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// quote is %q of a value from the file, cut to MaxQuoted bytes: a message
// that quoted a megabyte-long model_id whole would bury the problem. A cut
// value says how long it was.
func quote(s string) string {
	if len(s) <= MaxQuoted {
		return strconv.Quote(s)
	}
	c := clip(s, MaxQuoted)
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(strings.TrimSuffix(c, "…")), len(s))
}

// Error lets a Problem travel as an error.
func (p Problem) Error() string { return p.String() }

// HasErrors reports whether any problem is an error rather than a warning:
// a file with errors is not used (docs/settings.md: not_spawning plus
// settings_error at start, the last good settings on reload).
func HasErrors(problems []Problem) bool {
	for _, p := range problems {
		if !p.Warning {
			return true
		}
	}
	return false
}

// limitProblems keeps the first MaxProblems-1 problems and replaces the rest
// with one that counts them, placed where the first of them is. It is an
// error when any of those it stands for is, so HasErrors does not change.
func limitProblems(ps []Problem) []Problem {
	if len(ps) <= MaxProblems {
		return ps
	}
	rest := ps[MaxProblems-1:]
	more := Problem{
		File: rest[0].File, Line: rest[0].Line,
		Msg: fmt.Sprintf("and %d more problems from here on", len(rest)),
		Fix: "fix the ones above, then run ocm-tray check again",
	}
	for _, p := range rest {
		if !p.Warning {
			more.moreErrors++
		}
	}
	more.Warning = more.moreErrors == 0
	if more.Line == 0 {
		more.Key = rest[0].Key
	}
	return append(ps[:MaxProblems-1:MaxProblems-1], more)
}

// ErrorText joins the error problems (warnings left out) into the one line
// the status carries as settings_error, at most about MaxErrorText bytes:
// the first errors whole, then how many more `ocm-tray check` lists.
func ErrorText(problems []Problem) string {
	var b strings.Builder
	left := 0 // errors not written
	for _, p := range problems {
		if p.Warning {
			continue
		}
		if left > 0 {
			left += max(p.moreErrors, 1)
			continue
		}
		line := p.String()
		if b.Len() == 0 {
			line = clip(line, MaxErrorText)
		} else if b.Len()+len("; ")+len(line) > MaxErrorText {
			left += max(p.moreErrors, 1)
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(line)
	}
	if left > 0 {
		fmt.Fprintf(&b, "; and %d more (ocm-tray check lists them)", left)
	}
	return b.String()
}
