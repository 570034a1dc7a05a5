// Command ocm-tray keeps a local llama.cpp llama-server alive and shows its
// status in the system tray. Run without a command it is the agent; the
// other commands talk to the running agent, or read its files
// (docs/cli.md).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/OpenCircuitDev/ocm-tray/agent"
)

// Exit codes, part of the command line's contract (docs/cli.md).
const (
	exitOK      = 0
	exitError   = 1
	exitNoAgent = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// cmdAgent runs the agent: the default command.
func cmdAgent(o opts, stdout, stderr io.Writer) int {
	if o.on("version") {
		fmt.Fprintf(stdout, "ocm-tray %s\n", versionString())
		return exitOK
	}
	// SIGINT, SIGTERM and SIGHUP quit through the same path as the tray's
	// Quit: the context ends, the supervisor stops and reaps the child.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// The agent outlives its stderr: started as `ocm-tray 2>&1 | head` (or
	// with stderr on any pipe whose reader left), its next log line would
	// otherwise be a write to a broken pipe, which the Go runtime turns into
	// death by SIGPIPE, leaving the socket and the pid file behind and the server
	// unsupervised. Asking for SIGPIPE makes such a write fail with EPIPE
	// instead (the log then goes to the file alone). Notify rather than
	// Ignore: an ignored signal stays ignored in llama-server after exec.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	if err := agent.Run(ctx, agent.Options{ConfigPath: o.str("config"), Headless: o.on("headless"), Stderr: stderr}); err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	return exitOK
}
