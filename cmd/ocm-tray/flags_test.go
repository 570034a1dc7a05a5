package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	cmds := commandNames()
	for _, tc := range []struct{ in, want string }{
		{"stauts", "status"},   // a swap of neighbours is one edit
		{"statsu", "status"},   // likewise
		{"stat", "status"},     // a unique prefix
		{"sto", "stop"},        // a unique prefix of three letters
		{"st", ""},             // too short to be a prefix: status, start, stop
		{"restrat", "restart"}, // a swap
		{"strat", "start"},
		{"lgos", "logs"},
		{"auto", "autostart"},
		{"chek", "check"},
		{"halp", "help"},
		{"Status", "status"}, // the shift key
		{"version", "--version"},
		{"bogus", ""}, // two edits from logs: too far for a short word
		{"x", ""},
		{"", ""},
		{"quitt", "quit"},
		{"stopp", "stop"},
	} {
		if got := suggest(tc.in, cmds); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Equally near: both are offered.
	if got := suggest("of", []string{"on", "off", "status"}); got != "on or off" {
		t.Errorf(`suggest("of") = %q, want "on or off"`, got)
	}
	if got := suggest("--jsn", []string{"--json", "--watch"}); got != "--json" {
		t.Errorf(`suggest("--jsn") = %q`, got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3},
		{"status", "status", 0}, {"stauts", "status", 1}, {"stat", "start", 1},
		{"bogus", "logs", 2}, {"kitten", "sitting", 3}, {"ca", "abc", 3}, // OSA, not Damerau: 3
		{"héllo", "hello", 1}, // runes, not bytes
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	logs := findCommand("logs")
	for _, tc := range []struct {
		args []string
		want map[string]string
		pos  []string
		err  string // "" ok, "help", or a part of the usage error
	}{
		{nil, map[string]string{}, nil, ""},
		{[]string{"-n", "5"}, map[string]string{"lines": "5"}, nil, ""},
		{[]string{"--lines", "5", "-f"}, map[string]string{"lines": "5", "follow": "true"}, nil, ""},
		{[]string{"-n5"}, map[string]string{"lines": "5"}, nil, ""},
		{[]string{"--lines=7"}, map[string]string{"lines": "7"}, nil, ""},
		{[]string{"-lines", "7"}, map[string]string{"lines": "7"}, nil, ""}, // Go's single-dash habit
		{[]string{"--follow=false"}, map[string]string{"follow": "false"}, nil, ""},
		{[]string{"-f", "x", "--agent"}, map[string]string{"follow": "true", "agent": "true"}, []string{"x"}, ""},
		{[]string{"--", "-f"}, map[string]string{}, []string{"-f"}, ""},
		{[]string{"-"}, map[string]string{}, []string{"-"}, ""},
		{[]string{"-f", "--help"}, nil, nil, "help"},
		{[]string{"-h"}, nil, nil, "help"},
		{[]string{"-n"}, nil, nil, "-n needs a value: -n N"},
		{[]string{"--folow"}, nil, nil, "unknown flag --folow; did you mean --follow?"},
		{[]string{"--agent=maybe"}, nil, nil, "--agent is a switch"},
		{[]string{"-x"}, nil, nil, "unknown flag -x"},
	} {
		o, err := logs.parse(tc.args, true)
		switch {
		case tc.err == "help":
			if err != errHelp {
				t.Errorf("parse(%q) err = %v, want errHelp", tc.args, err)
			}
			continue
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parse(%q) err = %v, want %q", tc.args, err, tc.err)
			}
			continue
		case err != nil:
			t.Errorf("parse(%q): %v", tc.args, err)
			continue
		}
		if len(o.set) != len(tc.want) {
			t.Errorf("parse(%q) = %v, want %v", tc.args, o.set, tc.want)
		}
		for k, v := range tc.want {
			if o.set[k] != v {
				t.Errorf("parse(%q)[%s] = %q, want %q", tc.args, k, o.set[k], v)
			}
		}
		if strings.Join(o.args, " ") != strings.Join(tc.pos, " ") {
			t.Errorf("parse(%q) args = %q, want %q", tc.args, o.args, tc.pos)
		}
	}
}

// runCLI runs the command line in-process. Only for lines that neither
// reach an agent nor touch files: help and usage errors.
func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestHelp(t *testing.T) {
	// Every way of asking prints the usage on stdout, nothing on stderr,
	// exit 0.
	for _, tc := range []struct {
		args []string
		want string // the usage's first line
	}{
		{[]string{"-h"}, "ocm-tray keeps"},
		{[]string{"--help"}, "ocm-tray keeps"},
		{[]string{"help"}, "ocm-tray keeps"},
		{[]string{"help", "logs"}, "usage: ocm-tray logs [-n N] [-f] [--agent]"},
		{[]string{"logs", "-h"}, "usage: ocm-tray logs [-n N] [-f] [--agent]"},
		{[]string{"logs", "-f", "--help"}, "usage: ocm-tray logs [-n N] [-f] [--agent]"},
		{[]string{"status", "--help"}, "usage: ocm-tray status [--json] [--watch]"},
		{[]string{"start", "-h"}, "usage: ocm-tray start [--wait]"},
		{[]string{"help", "stop"}, "usage: ocm-tray stop [--wait]"},
		{[]string{"help", "restart"}, "usage: ocm-tray restart [--wait]"},
		{[]string{"quit", "--help"}, "usage: ocm-tray quit\n"},
		{[]string{"help", "init"}, "usage: ocm-tray init [--config PATH]"},
		{[]string{"check", "-h"}, "usage: ocm-tray check [--config PATH]"},
		{[]string{"autostart", "--help"}, "usage: ocm-tray autostart on | off | status"},
		{[]string{"autostart", "on", "--help"}, "usage: ocm-tray autostart on | off | status"},
		{[]string{"help", "help"}, "usage: ocm-tray help [COMMAND]"},
		{[]string{"--help", "status"}, "usage: ocm-tray status [--json] [--watch]"},
		{[]string{"help", "ocm-tray"}, "usage: ocm-tray [--config PATH] [--headless]"},
	} {
		out, errOut, code := runCLI(tc.args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, stdout starts %q; want exit 0 and %q", tc.args, code, errOut, firstLine(out), tc.want)
		}
	}
}

// Usage shows long flags with two dashes and short ones with one, never
// Go's "-name" for a long flag, and lists every flag a command parses.
func TestUsageShowsTwoDashes(t *testing.T) {
	goStyle := regexp.MustCompile(`(^|[\s\[])-[a-z]{2,}`)
	texts := map[string]string{"overview": overview}
	var b bytes.Buffer
	defaultCommand.writeHelp(&b)
	texts["agent"] = b.String()
	for _, c := range commands {
		var b bytes.Buffer
		c.writeHelp(&b)
		texts[c.name] = b.String()
		for _, f := range c.flags {
			if !strings.Contains(b.String(), "--"+f.long) {
				t.Errorf("help %s does not show --%s:\n%s", c.name, f.long, b.String())
			}
			if !strings.Contains(c.synopsis, "--"+f.long) && !strings.Contains(c.synopsis, "-"+f.short+" ") && !strings.Contains(c.synopsis, "-"+f.short+"]") {
				t.Errorf("%s's synopsis %q leaves out --%s", c.name, c.synopsis, f.long)
			}
		}
		if !strings.Contains(overview, "ocm-tray "+c.name) && !strings.Contains(overview, "| "+c.name) {
			t.Errorf("the overview does not list %s", c.name)
		}
	}
	for name, text := range texts {
		if m := goStyle.FindString(text); m != "" {
			t.Errorf("%s usage has a single-dash long flag %q:\n%s", name, m, text)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // in stderr
	}{
		{[]string{"stauts"}, []string{`unknown command "stauts"; did you mean status?`, "usage:"}},
		{[]string{"bogus"}, []string{`unknown command "bogus"`}},
		{[]string{"help", "lgos"}, []string{`unknown command "lgos"; did you mean logs?`}},
		{[]string{"status", "--jsn"}, []string{"ocm-tray status: unknown flag --jsn; did you mean --json?", "usage: ocm-tray status"}},
		{[]string{"logs", "-n", "many"}, []string{`-n wants a number of lines (0 or more), not "many"`, "usage: ocm-tray logs"}},
		{[]string{"logs", "-n", "-3"}, []string{`not "-3"`}},
		{[]string{"logs", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"start", "now"}, []string{"start takes no arguments", "usage: ocm-tray start [--wait]"}},
		{[]string{"autostart"}, []string{"say on, off or status", "usage: ocm-tray autostart"}},
		{[]string{"autostart", "of"}, []string{`unknown choice "of"`, "did you mean on or off?"}},
		{[]string{"--config", "x", "status"}, []string{"--config does not apply to status", "Flags go after the command's name", "usage: ocm-tray status"}},
		{[]string{"--headless", "status"}, []string{"--headless does not apply to status"}},
		{[]string{"--config", "x", "check"}, []string{"flags go after the command's name: ocm-tray check --config x", "usage: ocm-tray check"}},
		{[]string{"--json", "status"}, []string{"flags go after the command's name: ocm-tray status --json"}},
		{[]string{"--wait"}, []string{"--wait does not apply to running the agent; it is a flag of ocm-tray start --wait, ocm-tray stop --wait, ocm-tray restart --wait"}},
		{[]string{"status", "--config", "x"}, []string{"ocm-tray status: --config does not apply to status; it is a flag of ocm-tray --config, ocm-tray init --config, ocm-tray check --config", "usage: ocm-tray status"}},
		{[]string{"quit", "--wait"}, []string{"--wait does not apply to quit; it is a flag of ocm-tray start --wait"}},
		{[]string{"--versoin"}, []string{"unknown flag --versoin; did you mean --version?"}},
		{[]string{"--headless", "bogus"}, []string{`unknown command "bogus"`}},
		{[]string{"--config"}, []string{"--config needs a value"}},
		{[]string{"help", "a", "b"}, []string{"help takes one command's name"}},
	} {
		out, errOut, code := runCLI(tc.args...)
		if code != 1 || out != "" {
			t.Errorf("%q: exit %d, stdout %q; want exit 1, nothing on stdout", tc.args, code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%q: stderr lacks %q:\n%s", tc.args, w, errOut)
			}
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
