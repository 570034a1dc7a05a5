package control

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// AlreadyRunningError says another agent of this user holds the lock.
type AlreadyRunningError struct {
	PID int // the holder's pid, as it wrote it; 0 if unknown
}

func (e *AlreadyRunningError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("already running (pid %d)", e.PID)
	}
	return "already running"
}

// Lock is the single-instance lock: while it is held, no other agent of
// this user can acquire it. The operating system drops it when the process
// dies, however it dies, so a crash leaves nothing to clean up. The file is
// opened close-on-exec: the child never inherits (and so never holds) it.
type Lock struct {
	mu sync.Mutex
	f  *os.File
}

// AcquireLock takes the lock file at path (settings.Paths.LockFile) without
// waiting and writes our pid into it. If another agent holds it, the error
// is an *AlreadyRunningError carrying that agent's pid. Its directory must
// exist.
func AcquireLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if held {
		pid := readPID(f)
		f.Close()
		return nil, &AlreadyRunningError{PID: pid}
	}
	// Write, then truncate: a concurrent reader sees a whole pid (ours, or
	// a crashed holder's leftover), never a half-written one.
	b := strconv.AppendInt(nil, int64(os.Getpid()), 10)
	b = append(b, '\n')
	if _, err := f.WriteAt(b, 0); err == nil {
		err = f.Truncate(int64(len(b)))
	}
	if err != nil {
		unlock(f)
		f.Close()
		return nil, fmt.Errorf("lock %s: writing our pid: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// readPID returns the pid on the lock file's first line, or 0.
func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	pid, err := strconv.Atoi(string(bytes.TrimSpace(line)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Release empties the lock file (so it names no pid) and releases the lock.
// Safe to call more than once.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	return errors.Join(f.Truncate(0), unlock(f), f.Close())
}
