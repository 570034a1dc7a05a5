package settings

import (
	"strconv"
	"strings"
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
}

// String formats the problem as `PATH:LINE: KEY: problem; fix`, the format of
// compilers and linters that editors already know how to jump to. ":LINE" is
// left out when the line is unknown, "KEY: " when no key applies.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Fix != "" {
		b.WriteString("; ")
		b.WriteString(p.Fix)
	}
	return b.String()
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
