// Package oserr takes the path off an error from the os package, for
// messages that name the file themselves: "cannot write the pid file
// /run/…/llama-server.pid (no space left on device)" rather than the path
// twice.
package oserr

import (
	"errors"
	"io/fs"
	"os"
)

// Cause is err without the operation and path that os put around it
// (*fs.PathError, *os.LinkError, *os.SyscallError); any other error as it is.
func Cause(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	case errors.As(err, &se):
		return se.Err
	}
	return err
}
