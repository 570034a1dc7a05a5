//go:build !unix

package readfile

import "os"

// openNoBlock is os.Open: outside Unix opening a file does not wait for a
// writer.
func openNoBlock(path string) (*os.File, error) { return os.Open(path) }
