//go:build !unix

package testproc

import "os"

// terminate is the polite stop at the end of a test; without SIGTERM,
// Signal fails and the child is killed at once.
var terminate = os.Interrupt
