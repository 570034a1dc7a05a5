package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/autostart"
	"github.com/OpenCircuitDev/ocm-tray/control"
	"github.com/OpenCircuitDev/ocm-tray/settings"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// requestTimeout bounds a status/start/stop/restart exchange; quit waits for
// the child to be reaped, which may take stop_timeout, so it gets more.
const (
	requestTimeout = 10 * time.Second
	quitTimeout    = 5 * time.Minute
)

// dial connects to the running agent, or says there is none (exit 3).
func dial(stderr io.Writer) (*control.Client, int) {
	paths, err := settings.ResolvePaths("")
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return nil, exitError
	}
	if err := control.CheckSocketPath(paths.Socket()); err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return nil, exitError
	}
	// Another user able to write there could put a socket of theirs in
	// our agent's place: check the directory as the agent does.
	if err := settings.CheckRuntimeDir(paths.RuntimeDir); errors.Is(err, fs.ErrNotExist) {
		return nil, noAgent(stderr)
	} else if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return nil, exitError
	}
	addr, err := control.Address(paths.Socket())
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return nil, exitError
	}
	c, err := control.Dial(addr)
	if err != nil {
		return nil, clientErr(err, stderr)
	}
	return c, exitOK
}

func noAgent(stderr io.Writer) int {
	fmt.Fprintln(stderr, "ocm-tray: no agent is running (start it with `ocm-tray`)")
	return exitNoAgent
}

// clientErr maps a client error to the exit code.
func clientErr(err error, stderr io.Writer) int {
	if errors.Is(err, control.ErrNoAgent) {
		return noAgent(stderr)
	}
	fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
	return exitError
}

func cmdStatus(c *command, o opts, stdout, stderr io.Writer) int {
	if len(o.args) > 0 {
		return c.fail(stderr, fmt.Sprintf("unexpected argument %q", o.args[0]))
	}
	cl, code := dial(stderr)
	if cl == nil {
		return code
	}
	defer cl.Close()

	if o.on("watch") {
		// Ctrl-C ends the watch, not the agent; so does the reader of our
		// output going away.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		ctx, stopOutput := whileOutputRead(ctx, stdout)
		defer stopOutput()
		err := cl.Watch(ctx, func(line []byte, ev status.Event) error {
			if o.on("json") {
				_, err := fmt.Fprintf(stdout, "%s\n", line)
				return err
			}
			_, err := fmt.Fprintf(stdout, "%s  %s\n", ev.At.Local().Format(time.DateTime), status.OneLine(ev.Status))
			return err
		})
		if err != nil && ctx.Err() == nil {
			return clientErr(err, stderr)
		}
		return exitOK
	}

	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	st, err := cl.Status(ctx)
	if err != nil {
		return clientErr(err, stderr)
	}
	if o.on("json") {
		b, _ := json.Marshal(st)
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	fmt.Fprintln(stdout, status.Tooltip(st))
	return exitOK
}

// cmdAct sends start, stop, restart or quit; with --wait, start, stop and
// restart also wait for the outcome.
func cmdAct(c *command, o opts, stdout, stderr io.Writer) int {
	if len(o.args) > 0 {
		return c.fail(stderr, c.name+" takes no arguments")
	}
	cl, code := dial(stderr)
	if cl == nil {
		return code
	}
	defer cl.Close()
	if o.on("wait") {
		return actAndWait(cl, c.name, stdout, stderr)
	}
	timeout := requestTimeout
	if c.name == "quit" {
		timeout = quitTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := cl.Do(ctx, c.name); err != nil {
		return clientErr(err, stderr)
	}
	if c.name != "quit" {
		fmt.Fprintln(stdout, askedLine(c.name))
	}
	return exitOK
}

// askedLine is what start, stop and restart print once the agent took the
// request.
func askedLine(cmd string) string { return "asked llama-server to " + cmd }

func cmdCheck(c *command, o opts, stdout, stderr io.Writer) int {
	if len(o.args) > 0 {
		return c.fail(stderr, fmt.Sprintf("unexpected argument %q (the file goes after --config)", o.args[0]))
	}
	config := o.str("config")
	paths, err := settings.ResolvePaths(config)
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	lines, valid := settings.Check(paths.ConfigFile, config != "", paths.ModelsDir)
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if !valid {
		return exitError
	}
	return exitOK
}

func cmdAutostart(c *command, o opts, stdout, stderr io.Writer) int {
	if len(o.args) != 1 {
		return c.fail(stderr, "say on, off or status")
	}
	switch o.args[0] {
	case "on":
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "ocm-tray: cannot find my own executable: %v\n", err)
			return exitError
		}
		path, err := autostart.Enable(exe)
		if errors.Is(err, autostart.ErrTemporaryExe) {
			fmt.Fprintf(stderr, "ocm-tray: %v; a login entry needs a binary that stays.\n%s", err, installHint())
			return exitError
		}
		if err != nil {
			fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stdout, "autostart: on (wrote %s)\n", path)
	case "off":
		path, removed, err := autostart.Disable()
		if err != nil {
			fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
			return exitError
		}
		if removed {
			fmt.Fprintf(stdout, "autostart: off (removed %s)\n", path)
		} else {
			fmt.Fprintf(stdout, "autostart: off (there was no entry at %s)\n", path)
		}
	case "status":
	default:
		msg := fmt.Sprintf("unknown choice %q: say on, off or status", o.args[0])
		if s := suggest(o.args[0], []string{"on", "off", "status"}); s != "" {
			msg += "; did you mean " + s + "?"
		}
		return c.fail(stderr, msg)
	}
	st, err := autostart.Check()
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	if o.args[0] == "status" {
		fmt.Fprintln(stdout, autostart.Describe(st))
	} else if note := autostart.UnitNote(st); note != "" {
		fmt.Fprintln(stdout, note)
	}
	return exitOK
}

// installHint says how to install ocm-tray so that autostart can use it.
func installHint() string {
	pkg := "github.com/OpenCircuitDev/ocm-tray/cmd/ocm-tray"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" {
		pkg = bi.Path
	}
	return "Install it first, then run autostart on from the installed binary:\n" +
		"  go install ./cmd/ocm-tray          (in the source tree)\n" +
		"  go install " + pkg + "@latest\n" +
		"  \"$(go env GOPATH)\"/bin/ocm-tray autostart on\n" +
		"or install the .deb/.rpm package (packaging/build-packages.sh) and run ocm-tray autostart on.\n"
}
