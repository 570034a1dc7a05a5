//go:build !linux

package main

import (
	"context"
	"io"
)

// whileOutputRead is ctx with a cancel: the poll flags that tell a pipe
// without readers apart are checked on Linux only. Elsewhere a watch whose
// reader went away ends at its next write, killed by SIGPIPE.
func whileOutputRead(ctx context.Context, _ io.Writer) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}
