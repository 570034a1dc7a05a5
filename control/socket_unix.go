//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package control

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// isSocket reports whether fi is a unix socket file.
func isSocket(fi fs.FileInfo) bool { return fi.Mode()&fs.ModeSocket != 0 }

// isNoAgent reports whether a dial error means nobody listens: no socket
// file, or a file nobody accepts on (an agent that died left it).
func isNoAgent(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// restrictSocket makes the socket file 0600, whatever the umask was.
func restrictSocket(path string) error { return os.Chmod(path, 0o600) }

// isReset reports whether err says the peer closed the connection abruptly
// (on a unix socket: it closed with our bytes unread).
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
