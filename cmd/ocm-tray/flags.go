package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The command line is parsed here rather than by the flag package because
// its contract differs from Go's defaults: usage shows "--name" (Go prints
// "-name"), flags may come after positional arguments ("autostart on
// --help"), a mistyped flag gets a suggestion, and a flag given before the
// command's name is explained instead of being called an unknown command.

// flagDef is one flag of a command. Both "-name" and "--name" are accepted
// for either spelling, as Go's flag package does, so older habits keep
// working; usage shows the short one with one dash and the long one with two.
type flagDef struct {
	long  string // "lines" for --lines
	short string // "n" for -n; "" when there is none
	value string // the value's name in usage ("N", "PATH"); "" for a switch
	help  string
}

// errHelp is returned by parse for -h or --help.
var errHelp = errors.New("help requested")

// usageError is a command line the command cannot run: the message, then
// the command's usage, go to stderr and the exit code is 1.
type usageError struct {
	cmd *command
	msg string
}

func (e *usageError) Error() string { return e.msg }

// opts is a parsed command line.
type opts struct {
	set  map[string]string // long name -> value ("true" for a switch)
	args []string          // the positional arguments, in order
}

func (o opts) has(name string) bool { _, ok := o.set[name]; return ok }

func (o opts) str(name string) string { return o.set[name] }

// on reports whether a switch is set (and not set to false).
func (o opts) on(name string) bool {
	v, ok := o.set[name]
	return ok && v != "false"
}

// lookup finds a flag by either of its names.
func (c *command) lookup(name string) *flagDef {
	for i := range c.flags {
		f := &c.flags[i]
		if name == f.long || (f.short != "" && name == f.short) {
			return f
		}
	}
	return nil
}

// parse reads args for cmd. With interleaved, positional arguments may sit
// between flags (every subcommand); without, parsing stops at the first
// positional argument, which the default command treats as a misplaced
// command name. "--" ends the flags.
func (c *command) parse(args []string, interleaved bool) (opts, error) {
	o := opts{set: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.args = append(o.args, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			if !interleaved {
				o.args = append(o.args, args[i:]...)
				break
			}
			o.args = append(o.args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		if name == "h" || name == "help" {
			return o, errHelp
		}
		f := c.lookup(name)
		if f == nil && !hasValue && a[1] != '-' && len(name) > 1 {
			// -n5: a short flag with its value attached, as tail takes it.
			if g := c.lookup(name[:1]); g != nil && g.value != "" {
				f, value, hasValue = g, name[1:], true
			}
		}
		if f == nil {
			msg := "unknown flag " + a
			if owners := flagOwners(name); owners != "" {
				// A real flag, of another command: say so rather than
				// calling it unknown.
				what := c.name
				if what == "" {
					what = "running the agent"
				}
				msg = fmt.Sprintf("%s does not apply to %s; it is a flag of %s", a, what, owners)
			} else if s := suggest(name, c.flagNames()); s != "" {
				msg += "; did you mean " + s + "?"
			}
			return o, &usageError{c, msg}
		}
		switch {
		case f.value == "" && hasValue:
			b, err := strconv.ParseBool(value)
			if err != nil {
				return o, &usageError{c, fmt.Sprintf("--%s is a switch: write --%s alone", f.long, f.long)}
			}
			value = strconv.FormatBool(b)
		case f.value == "":
			value = "true"
		case !hasValue:
			if i+1 >= len(args) {
				return o, &usageError{c, fmt.Sprintf("%s needs a value: %s %s", a, a, f.value)}
			}
			i++
			value = args[i]
		}
		o.set[f.long] = value
	}
	return o, nil
}

// flagNames are the spellings suggest may offer, with their dashes.
func (c *command) flagNames() []string {
	var names []string
	for _, f := range c.flags {
		names = append(names, "--"+f.long)
	}
	return names
}

// writeHelp prints the command's usage: synopsis, what it does, its flags.
func (c *command) writeHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.usageLine(), c.about)
	fmt.Fprintln(w, "\nflags:")
	rows := [][2]string{}
	for _, f := range c.flags {
		if f.hidden() {
			continue
		}
		left := "    --" + f.long
		if f.short != "" {
			left = "-" + f.short + ", --" + f.long
		}
		if f.value != "" {
			left += " " + f.value
		}
		rows = append(rows, [2]string{left, f.help})
	}
	rows = append(rows, [2]string{"-h, --help", "print this help"})
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s   %s\n", width, r[0], r[1])
	}
}

// hidden flags are parsed but not shown in the flag list (only --version,
// which the overview shows on its own line).
func (f flagDef) hidden() bool { return f.help == "" }

// usageLine is "ocm-tray NAME SYNOPSIS".
func (c *command) usageLine() string {
	s := "ocm-tray"
	if c.name != "" {
		s += " " + c.name
	}
	if c.synopsis != "" {
		s += " " + c.synopsis
	}
	return s
}

// suggest returns the candidate nearest to s when s looks like a slip of
// the keyboard: a unique prefix of at least three letters ("auto" for
// autostart), or within one edit (two for words of six letters or more),
// a swap of neighbours counting as one edit ("stauts"). Equally near
// candidates are all offered.
func suggest(s string, candidates []string) string {
	bare := strings.TrimLeft(s, "-")
	if bare == "" {
		return ""
	}
	var prefixed []string
	for _, c := range candidates {
		if len(bare) >= 3 && strings.HasPrefix(strings.TrimLeft(c, "-"), bare) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	limit := 1
	if len(bare) >= 6 {
		limit = 2
	}
	best, nearest := limit+1, []string(nil)
	for _, c := range candidates {
		d := editDistance(strings.ToLower(bare), strings.TrimLeft(c, "-"))
		switch {
		case d > limit:
		case d < best:
			best, nearest = d, []string{c}
		case d == best:
			nearest = append(nearest, c)
		}
	}
	if best >= len(bare) { // "x" is one edit from any one-letter word
		return ""
	}
	return strings.Join(nearest, " or ")
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent letters, each
// costing one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows suffice: a swap looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
