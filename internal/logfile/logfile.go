// Package logfile is an append-only log file capped in size: when a write
// would take it past the cap, the file is renamed to NAME.1 (replacing the
// previous one) and a fresh file is started. Two generations bound the disk
// a chatty llama-server can take.
//
// A log never hurts its writer: a write the disk refuses (full, read-only,
// the folder gone) is dropped and counted, not failed, and every later
// write tries again, on a file opened afresh (so a log deleted to free the
// disk is let go, and a removed folder comes back). A log deleted or
// replaced while writes still work is noticed within a second. The first write that works again is preceded by a line
// saying how many were lost. Callers that must tell someone register
// OnTrouble. Writers write one line per Write, so the count is of lines.
package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/regular"
)

// checkEvery is how often a working log checks that its path still names
// the file it writes to.
const checkEvery = time.Second

// DefaultMaxBytes caps each generation when Open is given no size.
const DefaultMaxBytes = 10 << 20

// Trouble is a change in whether the file can be written.
type Trouble struct {
	// Err is why lines are being dropped, reported with the first of them;
	// nil when writing works again.
	Err error
	// Lost is how many lines were dropped, reported once writing works
	// again.
	Lost int64
}

// File is a size-capped, rotating log file. It is safe for concurrent use.
type File struct {
	path string
	max  int64

	mu        sync.Mutex
	f         *os.File // nil after a failed write, rotation or reopen: reopened on the next write
	fi        fs.FileInfo
	checked   time.Time // when the path was last seen to name f
	size      int64
	closed    bool
	rotate    bool  // the current file must be renamed to NAME.1 before the next is opened
	midLine   bool  // the last bytes written did not end a line (a write cut short)
	lost      int64 // lines dropped since the last write that worked
	lostErr   error // why the first of them was dropped
	onTrouble func(Trouble)
}

// Open opens (creating 0600, and its directory 0700 if needed) path for
// appending, rotating once it would exceed maxBytes (<= 0: DefaultMaxBytes).
func Open(path string, maxBytes int64) (*File, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	l := &File{path: path, max: maxBytes}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *File) open() error {
	// The folder may have been removed since (a cleaner, a user tidying
	// up): the log comes back with it.
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return fmt.Errorf("log directory: %w", err)
	}
	// A FIFO or device put at the path must neither block the open (the
	// writer is the supervisor's loop) nor receive the log.
	f, fi, err := regular.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	l.f, l.fi, l.size, l.checked = f, fi, fi.Size(), time.Now()
	if l.size == 0 {
		l.midLine = false // a new file: nothing to end
	}
	return nil
}

// Path is the file written to.
func (l *File) Path() string { return l.path }

// OnTrouble sets f to be told when writing starts failing (once, with the
// error) and when it works again (with the number of lines lost). f runs on
// the writing goroutine, outside the file's lock; it must not block.
func (l *File) OnTrouble(f func(Trouble)) {
	l.mu.Lock()
	l.onTrouble = f
	l.mu.Unlock()
}

// Write appends p, rotating first when p would push the file past the cap.
// It fails only after Close (os.ErrClosed): a write the disk refuses is
// dropped and counted instead, so a writer copying a child's output never
// stops draining it.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, os.ErrClosed
	}
	tr, changed := l.write(p)
	notify := l.onTrouble
	l.mu.Unlock()
	if changed && notify != nil {
		notify(tr)
	}
	return len(p), nil
}

// write appends p and reports whether writing just started failing or
// works again. l.mu is held.
func (l *File) write(p []byte) (Trouble, bool) {
	if l.f != nil && l.size > 0 && l.size+int64(len(p)) > l.max {
		l.f.Close()
		l.f, l.rotate = nil, true
	}
	if l.f != nil && time.Since(l.checked) >= checkEvery {
		// Deleted, or replaced (by a user, a cleaner, logrotate): writing
		// on would fill a file nobody can see, and hold its disk space.
		if fi, err := os.Stat(l.path); err != nil || !os.SameFile(fi, l.fi) {
			l.f.Close()
			l.f = nil
		} else {
			l.checked = time.Now()
		}
	}
	if l.f == nil {
		if err := l.reopen(); err != nil {
			return l.drop(err)
		}
	}
	buf := p
	if l.lost > 0 {
		note := fmt.Sprintf("ocm-tray: %d lines lost here (%v)\n", l.lost, l.lostErr)
		if l.midLine {
			note = "\n" + note
		}
		buf = append([]byte(note), p...)
	}
	n, err := l.f.Write(buf)
	l.size += int64(n)
	if n > 0 {
		l.midLine = buf[n-1] != '\n'
	}
	if err != nil {
		// Let go of the file: the next write opens it afresh, so space
		// freed by deleting it is really freed, and a folder removed
		// meanwhile is made again.
		l.f.Close()
		l.f = nil
		return l.drop(err)
	}
	if l.lost == 0 {
		return Trouble{}, false
	}
	tr := Trouble{Lost: l.lost}
	l.lost, l.lostErr = 0, nil
	return tr, true
}

// reopen rotates, if that is due, and opens the file again.
func (l *File) reopen() error {
	if l.rotate {
		if err := os.Rename(l.path, l.path+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate log: %w", err)
		}
		l.rotate, l.midLine = false, false
	}
	return l.open()
}

// drop counts a line that could not be written.
func (l *File) drop(err error) (Trouble, bool) {
	l.lost++
	if l.lost > 1 {
		return Trouble{}, false
	}
	l.lostErr = err
	return Trouble{Err: err}, true
}

// Close closes the file; later writes fail with os.ErrClosed.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
