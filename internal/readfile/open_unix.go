//go:build unix

package readfile

import (
	"os"
	"syscall"
)

// openNoBlock opens path for reading without waiting: opening a named pipe
// blocks until a writer comes, which may be never. On a regular file
// O_NONBLOCK changes nothing.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
