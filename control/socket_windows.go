//go:build windows

package control

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/windows"
)

// isSocket reports whether fi is an AF_UNIX socket file (a reparse point,
// reported as a socket or, by older Go versions, as irregular).
func isSocket(fi fs.FileInfo) bool { return fi.Mode()&(fs.ModeSocket|fs.ModeIrregular) != 0 }

// isNoAgent reports whether a dial error means nobody listens.
func isNoAgent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, windows.WSAECONNREFUSED)
}

// restrictSocket is a no-op: Windows has no mode bits; the runtime
// directory's ACL keeps other users out.
func restrictSocket(string) error { return nil }

// isReset reports whether err says the peer closed the connection abruptly.
func isReset(err error) bool {
	return errors.Is(err, windows.WSAECONNRESET) || errors.Is(err, windows.WSAECONNABORTED)
}
