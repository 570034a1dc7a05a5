//go:build !linux

// Command bench measures ocm-tray against supervisord and runit. It needs
// Linux (the kernel's process-event connector and /proc); see
// docs/BENCHMARKS.md.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench: Linux only (it reads /proc and the kernel's process-event connector)")
	os.Exit(2)
}
