package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/regular"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/OpenCircuitDev/ocm-tray/settings"
)

const (
	defaultLogLines = 50
	// tailBlock is how much of the file is read at a time, backwards from
	// its end, to find where the last lines begin: memory stays this small
	// however long the file or its lines.
	tailBlock = 64 << 10
	// followPoll is how often logs -f looks at the file when no file system
	// event woke it: a safety net for file systems without inotify.
	followPoll = time.Second
)

func cmdLogs(c *command, o opts, stdout, stderr io.Writer) int {
	if len(o.args) > 0 {
		return c.fail(stderr, fmt.Sprintf("unexpected argument %q", o.args[0]))
	}
	n := defaultLogLines
	if o.has("lines") {
		v, err := strconv.Atoi(o.str("lines"))
		if err != nil || v < 0 {
			return c.fail(stderr, fmt.Sprintf("-n wants a number of lines (0 or more), not %q", o.str("lines")))
		}
		n = v
	}
	paths, err := settings.ResolvePaths("")
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	path, who := paths.ServerLog(), "llama-server has not been started by ocm-tray yet"
	if o.on("agent") {
		path, who = paths.AgentLog(), "the agent has not run yet"
	}

	fl := &follower{path: path, out: stdout}
	defer fl.close()
	err = fl.tail(n)
	if errors.Is(err, fs.ErrNotExist) {
		if !o.on("follow") {
			fmt.Fprintf(stderr, "ocm-tray: no log yet: %s does not exist (%s)\n", path, who)
			return exitError
		}
		fmt.Fprintf(stderr, "ocm-tray: waiting for %s to appear\n", path)
	} else if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	if !o.on("follow") {
		return exitOK
	}
	// Ctrl-C ends the following, which is the normal way out; so does the
	// reader of our output going away (`ocm-tray logs -f | head -n 1` ends
	// with head, not at the log's next line, which may be hours away).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, stopOutput := whileOutputRead(ctx, stdout)
	defer stopOutput()
	if err := fl.follow(ctx); err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	return exitOK
}

// follower prints a log file that internal/logfile writes: appended to,
// and rotated by renaming it to NAME.1 and starting a fresh NAME.
type follower struct {
	path string
	out  io.Writer
	f    *os.File    // the generation being read; nil until the file exists
	fi   fs.FileInfo // f's identity, to notice the rotation
}

func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
	}
}

// tail prints the last n lines: from the current file, preceded by the end
// of NAME.1 when the current file has fewer (it was just rotated). It
// leaves the current file open at its end for follow. An error wrapping
// fs.ErrNotExist means there is no log yet.
func (fl *follower) tail(n int) error {
	f, fi, err := openStat(fl.path)
	if err != nil {
		return err
	}
	fl.f, fl.fi = f, fi
	off, lines, err := tailOffset(f, fi.Size(), n)
	if err != nil {
		return err
	}
	if lines < n {
		if err := fl.tailPrevious(n-lines, fi); err != nil {
			return err
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(fl.out, f)
	return err
}

// tailPrevious prints the last n lines of NAME.1, unless it is the current
// file (a rotation between the two opens).
func (fl *follower) tailPrevious(n int, current fs.FileInfo) error {
	f, fi, err := openStat(fl.path + ".1")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if os.SameFile(fi, current) {
		return nil
	}
	off, _, err := tailOffset(f, fi.Size(), n)
	if err != nil {
		return err
	}
	_, err = io.Copy(fl.out, io.NewSectionReader(f, off, fi.Size()-off))
	return err
}

// tailOffset returns where the last n lines of the first size bytes of r
// begin, reading backwards a block at a time, and how many lines that is
// (fewer than n when r holds fewer). A final newline ends the last line
// rather than starting an empty one.
func tailOffset(r io.ReaderAt, size int64, n int) (off int64, lines int, err error) {
	if n <= 0 || size == 0 {
		return size, 0, nil
	}
	end := size
	var last [1]byte
	if _, err := r.ReadAt(last[:], size-1); err != nil {
		return 0, 0, err
	}
	if last[0] == '\n' {
		end--
	}
	buf := make([]byte, tailBlock)
	newlines := 0
	for end > 0 {
		start := max(0, end-tailBlock)
		b := buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		for i := bytes.LastIndexByte(b, '\n'); i >= 0; i = bytes.LastIndexByte(b[:i], '\n') {
			newlines++
			if newlines == n {
				return start + int64(i) + 1, n, nil
			}
		}
		end = start
	}
	return 0, newlines + 1, nil
}

// follow prints what is appended to the log until ctx ends, following it
// across rotations; it waits for the file if it does not exist yet.
func (fl *follower) follow(ctx context.Context) error {
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	w, err := fsnotify.NewWatcher()
	if err == nil {
		defer w.Close()
	}
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		if w != nil && events == nil && w.Add(filepath.Dir(fl.path)) == nil {
			// Watch the folder: the rotation replaces the file.
			events, watchErrs = w.Events, w.Errors
		}
		if err := fl.step(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-events:
			if !ok {
				events, watchErrs, w = nil, nil, nil
			}
		case _, ok := <-watchErrs: // an overflow: the step looks anyway
			if !ok {
				events, watchErrs, w = nil, nil, nil
			}
		case <-tick.C:
		}
	}
}

// step prints whatever was appended since the last step. When the file was
// rotated, it finishes the old generation (which takes no more writes once
// renamed), then prints NAME.1 if that is a generation it never saw (two
// rotations between steps), then goes on with the new file. A file
// truncated in place is read again from its start.
func (fl *follower) step() error {
	if fl.f == nil {
		f, fi, err := openStat(fl.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		fl.f, fl.fi = f, fi
	}
	if _, err := io.Copy(fl.out, fl.f); err != nil {
		return err
	}
	cur, err := os.Stat(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // between the rotation's rename and the new file
	}
	if err != nil {
		return err
	}
	if os.SameFile(cur, fl.fi) {
		pos, err := fl.f.Seek(0, io.SeekCurrent)
		if err != nil || cur.Size() >= pos {
			return err
		}
		if _, err := fl.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err = io.Copy(fl.out, fl.f)
		return err
	}

	next, nextFi, err := openStat(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	old := fl.fi
	_, err = io.Copy(fl.out, fl.f)
	fl.f.Close()
	fl.f, fl.fi = next, nextFi
	if err != nil {
		return err
	}
	if err := fl.printMissed(old); err != nil {
		return err
	}
	_, err = io.Copy(fl.out, fl.f)
	return err
}

// openStat opens path and says which file it is.
func openStat(path string) (*os.File, fs.FileInfo, error) {
	// A FIFO or device at the log's path must not hang the command.
	return regular.Open(path)
}

// printMissed prints NAME.1 when it is neither the generation just finished
// (old) nor the current one: a whole generation written and rotated away
// between two steps.
func (fl *follower) printMissed(old fs.FileInfo) error {
	mid, fi, err := openStat(fl.path + ".1")
	if err != nil {
		return nil // gone or unreadable: nothing more to recover
	}
	defer mid.Close()
	if os.SameFile(fi, old) || os.SameFile(fi, fl.fi) {
		return nil
	}
	_, err = io.Copy(fl.out, mid)
	return err
}
