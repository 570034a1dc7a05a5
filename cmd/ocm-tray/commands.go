package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// command is one of ocm-tray's commands. The default command (running the
// agent) has no name.
type command struct {
	name     string
	synopsis string // what follows the name in usage
	about    string // what the command does, for its help
	flags    []flagDef
	run      func(c *command, o opts, stdout, stderr io.Writer) int
}

var configFlag = flagDef{long: "config", value: "PATH", help: "the settings file (default $XDG_CONFIG_HOME/ocm/settings.toml)"}

// defaultCommand runs the agent.
var defaultCommand = &command{
	synopsis: "[--config PATH] [--headless]",
	about: `Run the agent: start llama-server when the settings allow it, keep it
running, and show its state in the system tray. Without a tray it keeps
supervising and answers the other commands. SIGINT, SIGTERM and SIGHUP stop
llama-server first, then the agent.`,
	flags: []flagDef{
		configFlag,
		{long: "headless", help: "run without a tray icon (servers, systemd)"},
		{long: "version", help: "print the version and exit"},
	},
	run: func(_ *command, o opts, stdout, stderr io.Writer) int { return cmdAgent(o, stdout, stderr) },
}

// commands are the named commands, in the order the overview lists them.
// Filled in by init: their run functions refer back to the table.
var commands []*command

func init() {
	waitFlag := func(what string) flagDef {
		return flagDef{long: "wait", help: what}
	}
	const startWait = "wait for the outcome and print it: exit 0 when running, 1 when it failed or the spawn-gate refused"
	commands = []*command{
		{name: "status", synopsis: "[--json] [--watch]",
			about: `Ask the running agent what llama-server is doing. Exits 0 whenever the
agent answered, whatever the state; 3 when no agent is running.`,
			flags: []flagDef{
				{long: "json", help: "print the status as one JSON object"},
				{long: "watch", help: "keep printing every change until the agent stops (Ctrl-C ends the watch)"},
			},
			run: cmdStatus},
		{name: "start", synopsis: "[--wait]",
			about: `Ask the running agent to start llama-server (after stop, or after it
failed; when the spawn-gate refused, the gate is asked again). Prints what
it asked for. Exits 3 when no agent is running.`,
			flags: []flagDef{waitFlag(startWait)}, run: cmdAct},
		{name: "stop", synopsis: "[--wait]",
			about: `Ask the running agent to stop llama-server; it stays stopped until start
or restart. Prints what it asked for. Exits 3 when no agent is running.`,
			flags: []flagDef{waitFlag("wait until llama-server has stopped and print it")}, run: cmdAct},
		{name: "restart", synopsis: "[--wait]",
			about: `Ask the running agent to stop llama-server, reset its restart count and
start it again. Prints what it asked for. Exits 3 when no agent is running.`,
			flags: []flagDef{waitFlag(startWait)}, run: cmdAct},
		{name: "quit",
			about: `Stop llama-server and the agent. Returns once the server is reaped and
the agent is exiting. Exits 3 when no agent is running.`,
			run: cmdAct},
		modelsCommand(), useCommand(), unloadCommand(),
		{name: "logs", synopsis: "[-n N] [-f] [--agent]",
			about: `Print the last lines of llama-server's log, $XDG_STATE_HOME/ocm/llama-server.log
(with the end of the rotated llama-server.log.1 first when the current file
holds fewer lines). It reads the file, so it works with no agent running.`,
			flags: []flagDef{
				{long: "lines", short: "n", value: "N", help: "print the last N lines (default 50)"},
				{long: "follow", short: "f", help: "then keep printing new lines, across rotation, until Ctrl-C"},
				{long: "agent", help: "the agent's own log (ocm-tray.log) instead"},
			},
			run: cmdLogs},
		{name: "init", synopsis: "[--config PATH]",
			about: `Write the commented settings file, with backend = "llamacpp" and, when
exactly one choice is found, llama_server_binary (from PATH and the usual
install places) and model_id (from the models folder). Says what it found
and what is left to do. Never overwrites an existing file.`,
			flags: []flagDef{configFlag}, run: cmdInit},
		{name: "check", synopsis: "[--config PATH]",
			about: `Validate the settings file: one line per problem or warning,
"PATH:LINE: KEY: problem; fix", then the spawn-gate's decision, "gate: spawn"
or "gate: refuse: <reason>". No file at the default path means the defaults.
Exits 1 when the file is invalid.`,
			flags: []flagDef{configFlag}, run: cmdCheck},
		{name: "autostart", synopsis: "on | off | status",
			about: `on: start the tray at login, through your XDG autostart entry
($XDG_CONFIG_HOME/autostart/ocm-tray.desktop) running this binary.
off: remove that entry. status: say what is in force. The systemd user unit
(ocm-tray.service, for --headless) is the alternative to the entry; both
"on" and "status" say when it is enabled.`,
			run: cmdAutostart},
		{name: "help", synopsis: "[COMMAND]",
			about: "Print the list of commands, or one command's usage and flags.",
			run:   cmdHelp},
	}
}

// overview is the list of commands: "ocm-tray help", "ocm-tray --help".
const overview = `ocm-tray keeps llama.cpp's llama-server running and shows it in the system tray.

usage:
  ocm-tray [--config PATH] [--headless]      run the agent (the default command)
  ocm-tray status [--json] [--watch]         ask the running agent
  ocm-tray start | stop | restart [--wait]   act on the running agent
  ocm-tray quit                              stop the server and the agent
  ocm-tray models [--json]                   the models in models_dir, with their state
  ocm-tray use MODEL [--wait]                make MODEL the model
  ocm-tray unload [MODEL]                    router mode: unload one model, or all
  ocm-tray logs [-n N] [-f] [--agent]        the server's log (or the agent's)
  ocm-tray init [--config PATH]              write the commented settings file, filled in from what is found
  ocm-tray check [--config PATH]             validate settings; print problems and the gate's decision
  ocm-tray autostart on | off | status       start the tray at login (XDG autostart entry)
  ocm-tray help [COMMAND] | --version

Flags go after the command's name. "ocm-tray help COMMAND" shows a
command's flags. Exit codes: 0 ok, 1 error, 3 no agent is running.
`

// findCommand returns the named command, or nil.
func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// commandNames are the candidates for "did you mean".
func commandNames() []string {
	names := []string{"--version"}
	for _, c := range commands {
		names = append(names, c.name)
	}
	return names
}

// run parses the command line and runs the command; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !isFlag(args[0]) {
		c := findCommand(args[0])
		if c == nil {
			return unknownCommand(args[0], stderr)
		}
		return c.exec(args[1:], stdout, stderr)
	}
	return runDefault(args, stdout, stderr)
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// exec parses the command's arguments and runs it.
func (c *command) exec(args []string, stdout, stderr io.Writer) int {
	o, err := c.parse(args, true)
	if errors.Is(err, errHelp) {
		c.writeHelp(stdout)
		return exitOK
	}
	if err != nil {
		return c.fail(stderr, err.Error())
	}
	return c.run(c, o, stdout, stderr)
}

// fail reports a command line the command cannot run: the message, then its
// usage, on stderr; exit 1.
func (c *command) fail(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\n\n", c.usageName(), msg)
	c.writeHelp(stderr)
	return exitError
}

// usageName is how messages name the command: "ocm-tray status".
func (c *command) usageName() string {
	if c.name == "" {
		return "ocm-tray"
	}
	return "ocm-tray " + c.name
}

func unknownCommand(name string, stderr io.Writer) int {
	msg := fmt.Sprintf("ocm-tray: unknown command %q", name)
	if s := suggest(name, commandNames()); s != "" {
		msg += "; did you mean " + s + "?"
	}
	fmt.Fprintf(stderr, "%s\n\n%s", msg, overview)
	return exitError
}

// runDefault handles a command line that starts with a flag: the agent's
// flags, --version, --help, or flags put before a command's name.
func runDefault(args []string, stdout, stderr io.Writer) int {
	o, err := defaultCommand.parse(args, false)
	if i := misplacedCommand(args); i >= 0 && (err != nil && !errors.Is(err, errHelp) || len(o.args) > 0) {
		return flagsBeforeCommand(args[:i], findCommand(args[i]), args[i+1:], stderr)
	}
	if errors.Is(err, errHelp) {
		if i := misplacedCommand(args); i >= 0 { // "ocm-tray --help status"
			findCommand(args[i]).writeHelp(stdout)
		} else {
			fmt.Fprint(stdout, overview)
		}
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "ocm-tray: %s\n\n%s", ue.msg, overview)
		return exitError
	}
	if len(o.args) > 0 {
		return unknownCommand(o.args[0], stderr)
	}
	return defaultCommand.run(defaultCommand, o, stdout, stderr)
}

// misplacedCommand finds a command's name after flags ("--config X status"),
// skipping the values of the agent's flags; -1 when there is none.
func misplacedCommand(args []string) int {
	for i, a := range args {
		if a == "--" {
			return -1
		}
		if isFlag(a) || findCommand(a) == nil {
			continue
		}
		if i > 0 {
			prev := strings.TrimLeft(args[i-1], "-")
			if f := defaultCommand.lookup(prev); f != nil && f.value != "" && !strings.Contains(prev, "=") {
				continue // the value of --config
			}
		}
		return i
	}
	return -1
}

// flagsBeforeCommand explains "ocm-tray FLAGS COMMAND ARGS": either the
// command takes those flags, and here is the line to type, or it does not.
func flagsBeforeCommand(flags []string, c *command, rest []string, stderr io.Writer) int {
	if _, err := c.parse(flags, true); err == nil {
		line := append(append([]string{"ocm-tray", c.name}, flags...), rest...)
		return c.fail(stderr, "flags go after the command's name: "+strings.Join(line, " "))
	}
	for _, a := range flags {
		if !isFlag(a) {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if c.lookup(name) == nil {
			msg := fmt.Sprintf("%s does not apply to %s", a, c.name)
			if owners := flagOwners(name); owners != "" {
				msg += "; it is a flag of " + owners
			}
			return c.fail(stderr, msg+". Flags go after the command's name.")
		}
	}
	return c.fail(stderr, "flags go after the command's name")
}

// flagOwners lists the commands that take the flag name, "" for none:
// "ocm-tray start --wait, ocm-tray stop --wait".
func flagOwners(name string) string {
	var owners []string
	for _, c := range append([]*command{defaultCommand}, commands...) {
		if f := c.lookup(name); f != nil {
			owners = append(owners, c.usageName()+" --"+f.long)
		}
	}
	return strings.Join(owners, ", ")
}

func cmdHelp(c *command, o opts, stdout, stderr io.Writer) int {
	switch len(o.args) {
	case 0:
		fmt.Fprint(stdout, overview)
		return exitOK
	case 1:
		name := o.args[0]
		if target := findCommand(name); target != nil {
			target.writeHelp(stdout)
			return exitOK
		}
		if name == "ocm-tray" || name == "run" || name == "agent" {
			defaultCommand.writeHelp(stdout)
			return exitOK
		}
		return unknownCommand(name, stderr)
	default:
		return c.fail(stderr, "help takes one command's name")
	}
}
