// Command gofloor is the benchmark's reference for idle CPU: a Go process
// that does nothing but wake up every -every (5 s, ocm-tray's default health
// interval). Whatever it costs is the Go runtime's floor on this machine, below
// which no Go supervisor probing at that rate can go.
package main

import (
	"flag"
	"time"
)

func main() {
	every := flag.Duration("every", 5*time.Second, "wake-up period")
	flag.Parse()
	t := time.NewTicker(*every)
	for range t.C {
	}
}
