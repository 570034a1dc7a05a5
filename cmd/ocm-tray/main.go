// Command ocm-tray keeps a local llama.cpp llama-server alive and shows its
// status in the system tray. Run without a command it is the agent; the
// other commands talk to the running agent (docs/cli.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/OpenCircuitDev/ocm-tray/agent"
)

// version is set at build time (-ldflags "-X main.version=1.2.3").
var version = "dev"

// Exit codes (docs/cli.md).
const (
	exitOK      = 0
	exitError   = 1
	exitNoAgent = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return cmdStatus(args[1:], stdout, stderr)
		case "start", "stop", "restart", "quit":
			return cmdAct(args[0], args[1:], stderr)
		case "check":
			return cmdCheck(args[1:], stdout, stderr)
		case "autostart":
			return cmdAutostart(args[1:], stdout, stderr)
		case "help":
			usage(stdout)
			return exitOK
		}
	}
	return cmdAgent(args, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  ocm-tray [--config PATH] [--headless]   run the agent
  ocm-tray status [--json] [--watch]      ask the running agent
  ocm-tray start | stop | restart | quit  act on the running agent
  ocm-tray check [--config PATH]          validate settings and show the spawn-gate's decision
  ocm-tray autostart on | off | status    start the tray at login (XDG autostart entry)
  ocm-tray --version
`)
}

func cmdAgent(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ocm-tray", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr) }
	config := fs.String("config", "", "settings file (default $XDG_CONFIG_HOME/ocm/settings.toml)")
	headless := fs.Bool("headless", false, "run without a tray icon")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ocm-tray: unknown command %q\n", fs.Arg(0))
		usage(stderr)
		return exitError
	}
	if *showVersion {
		fmt.Fprintf(stdout, "ocm-tray %s\n", version)
		return exitOK
	}
	// SIGINT, SIGTERM and SIGHUP quit through the same path as the tray's
	// Quit: the context ends, the supervisor stops and reaps the child.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := agent.Run(ctx, agent.Options{ConfigPath: *config, Headless: *headless, Stderr: stderr}); err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	return exitOK
}
