package tray

import (
	"bytes"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
)

// systray reports through the standard library's global logger, one line
// per failed call: with a broken bus that is a line per icon update.
// captureSystrayLog routes its lines to our logger instead, each distinct
// message once, and passes every other line through untouched. It returns a
// function that puts the previous output back (if nobody replaced ours
// meanwhile).
func captureSystrayLog(l *slog.Logger) (restore func()) {
	f := &systrayLog{next: log.Writer(), log: l, seen: map[string]int{}}
	log.SetOutput(f)
	return func() {
		if log.Writer() == io.Writer(f) {
			log.SetOutput(f.next)
		}
	}
}

// maxDistinct bounds the messages remembered; beyond it systray lines go to
// debug level only.
const maxDistinct = 32

type systrayLog struct {
	next io.Writer
	log  *slog.Logger

	mu   sync.Mutex
	seen map[string]int
}

func (f *systrayLog) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	i := strings.Index(line, "systray error: ")
	if i < 0 {
		i = strings.Index(line, "Failed to read icon format")
	}
	if i < 0 {
		return f.next.Write(p)
	}
	msg := strings.TrimPrefix(line[i:], "systray error: ")
	f.mu.Lock()
	n, seen := f.seen[msg]
	full := !seen && len(f.seen) >= maxDistinct
	if !full {
		f.seen[msg] = n + 1
	}
	f.mu.Unlock()
	switch {
	case seen || full:
		f.log.Debug("tray: systray (repeated)", "msg", msg)
	case strings.HasPrefix(msg, "failed to register:"):
		// Said once, in plain words, by the host watcher.
		f.log.Debug("tray: systray", "msg", msg)
	default:
		f.log.Warn("tray: systray", "msg", msg)
	}
	return len(p), nil
}
