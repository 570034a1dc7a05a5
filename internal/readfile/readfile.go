// Package readfile opens and reads files that must be regular files
// without ever blocking: a named pipe put where a settings or model file
// belongs must not hang the agent or the CLI.
package readfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// NotRegularError means the path is a directory, a pipe, a socket or a
// device.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Kind(e.Mode))
}

// TooLargeError means the file is larger than the caller's limit.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes", e.Path, e.Limit)
}

// Open opens path for reading without waiting for a writer (see
// openNoBlock) and checks that what it opened is a regular file: the path
// may have been replaced since anyone looked at it.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := openNoBlock(path)
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
		return nil, fi, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, fi, nil
}

// Regular reads the whole of the regular file at path, at most limit
// bytes (a larger file is a *TooLargeError).
func Regular(path string, limit int64) ([]byte, fs.FileInfo, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, fi, err
	}
	defer f.Close()
	// One byte past the limit: the file may have grown since Stat.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fi, err
	}
	if int64(len(data)) > limit {
		return nil, fi, &TooLargeError{Path: path, Limit: limit}
	}
	return data, fi, nil
}

// Kind names a file that is not a regular file, for messages.
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
