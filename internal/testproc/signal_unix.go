//go:build unix

package testproc

import "syscall"

// terminate is the polite stop at the end of a test.
var terminate = syscall.SIGTERM
