//go:build unix

package settings

import (
	"os"
	"syscall"
)

// openNoBlock opens path for reading without waiting: opening a named pipe
// for reading blocks until someone opens it for writing, which may be never,
// and a file can become a pipe between a look at it and the open. On a
// regular file O_NONBLOCK changes nothing.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
