//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// Address returns where the agent of this user listens, given its socket
// path in the private runtime directory: on Unix that socket itself.
func Address(socketPath string) (string, error) { return socketPath, nil }

// listen binds the unix socket at path, mode 0600, after clearing a stale
// socket file away. unlink removes the file, if it is still the one bound.
func listen(path string) (ln net.Listener, unlink func() error, err error) {
	if err := removeStale(path); err != nil {
		return nil, nil, err
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	// unlink removes the file itself, and only if it is still ours.
	ul.SetUnlinkOnClose(false)
	// bind creates the file with the umask's mode; restrict it at once. The
	// runtime directory is 0700, so nobody else could connect meanwhile.
	if err := os.Chmod(path, 0o600); err != nil {
		ul.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	bound, err := os.Lstat(path)
	if err != nil {
		ul.Close()
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	unlink = func() error {
		if fi, err := os.Lstat(path); err == nil && os.SameFile(fi, bound) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("control socket: %w", err)
			}
		}
		return nil
	}
	return ul, unlink, nil
}

// removeStale clears the way for bind: it removes a socket file nobody
// answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("control socket: %s exists and is not a socket; not replacing it", path)
	}
	c, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket: another agent answers on %s", path)
	}
	if !isNoAgent(err) {
		return fmt.Errorf("control socket: probing %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket: removing the stale %s: %w", path, err)
	}
	return nil
}

// dialAddr connects to the unix socket at path.
func dialAddr(path string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("unix", path, timeout)
}

// isNoAgent reports whether a dial error means nobody listens: no socket
// file, or a file nobody accepts on (an agent that died left it).
func isNoAgent(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// isReset reports whether err says the peer closed the connection abruptly
// (on a unix socket: it closed with our bytes unread).
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
