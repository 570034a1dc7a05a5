// Package regular opens files that must be regular files (settings, logs)
// without ever blocking: opening a named pipe waits until someone opens its
// other end, which may be never, and a path can become a pipe between a
// look at it and the open. So the open itself does not wait, and what was
// opened is checked.
package regular

import (
	"fmt"
	"io/fs"
	"os"
)

// NotRegularError says the path names something other than a regular file.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Kind(e.Mode))
}

// Kind names a file type for a person: "a named pipe (FIFO)", "a directory".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

// OpenFile is os.OpenFile that never waits for the other end of a pipe and
// returns only a regular file (a symbolic link to one is followed), with
// its FileInfo. Anything else is closed again and reported as a
// *NotRegularError.
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, flag|nonBlock, perm)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, fi, nil
}

// Open opens path for reading, as OpenFile.
func Open(path string) (*os.File, fs.FileInfo, error) { return OpenFile(path, os.O_RDONLY, 0) }
