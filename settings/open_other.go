//go:build !unix

package settings

import "os"

// openNoBlock is os.Open where opening a file cannot block on a writer.
func openNoBlock(path string) (*os.File, error) { return os.Open(path) }
