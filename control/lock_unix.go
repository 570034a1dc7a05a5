//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package control

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive flock without waiting; held reports that
// another open file description (another agent) has it. flock, not fcntl:
// fcntl locks belong to the process, so a second attempt from the same
// process would succeed, and closing any descriptor of the file drops them.
func tryLock(f *os.File) (held bool, err error) {
	err = flockRetry(f, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

func unlock(f *os.File) error { return flockRetry(f, unix.LOCK_UN) }

func flockRetry(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), how)
			if !errors.Is(ferr, unix.EINTR) {
				return
			}
		}
	})
	return errors.Join(err, ferr)
}
