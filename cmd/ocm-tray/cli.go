package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	c, err := control.Dial(paths.Socket())
	if errors.Is(err, control.ErrNoAgent) {
		fmt.Fprintln(stderr, "ocm-tray: no agent is running (start it with `ocm-tray`)")
		return nil, exitNoAgent
	}
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return nil, exitError
	}
	return c, exitOK
}

// clientErr maps a client error to the exit code.
func clientErr(err error, stderr io.Writer) int {
	if errors.Is(err, control.ErrNoAgent) {
		fmt.Fprintln(stderr, "ocm-tray: no agent is running (start it with `ocm-tray`)")
		return exitNoAgent
	}
	fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
	return exitError
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ocm-tray status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	watch := fs.Bool("watch", false, "keep printing every change until the agent stops")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitError
	}
	c, code := dial(stderr)
	if c == nil {
		return code
	}
	defer c.Close()

	if *watch {
		// Ctrl-C ends the watch, not the agent.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.Watch(ctx, func(line []byte, ev status.Event) error {
			if *asJSON {
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
	st, err := c.Status(ctx)
	if err != nil {
		return clientErr(err, stderr)
	}
	if *asJSON {
		b, _ := json.Marshal(st)
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	fmt.Fprintln(stdout, status.Tooltip(st))
	return exitOK
}

func cmdAct(cmd string, args []string, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "ocm-tray %s takes no arguments\n", cmd)
		return exitError
	}
	c, code := dial(stderr)
	if c == nil {
		return code
	}
	defer c.Close()
	timeout := requestTimeout
	if cmd == "quit" {
		timeout = quitTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.Do(ctx, cmd); err != nil {
		return clientErr(err, stderr)
	}
	return exitOK
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ocm-tray check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "settings file to check (default $XDG_CONFIG_HOME/ocm/settings.toml)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitError
	}
	paths, err := settings.ResolvePaths(*config)
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	lines, valid := settings.Check(paths.ConfigFile, *config != "", paths.ModelsDir)
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if !valid {
		return exitError
	}
	return exitOK
}

func cmdAutostart(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: ocm-tray autostart on | off | status")
		return exitError
	}
	switch args[0] {
	case "on":
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "ocm-tray: cannot find my own executable: %v\n", err)
			return exitError
		}
		path, err := autostart.Enable(exe)
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
		fmt.Fprintln(stderr, "usage: ocm-tray autostart on | off | status")
		return exitError
	}
	st, err := autostart.Check()
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	if args[0] == "status" {
		fmt.Fprintln(stdout, autostart.Describe(st))
	} else if note := autostart.UnitNote(st); note != "" {
		fmt.Fprintln(stdout, note)
	}
	return exitOK
}
