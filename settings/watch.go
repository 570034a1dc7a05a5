package settings

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits after the last change before it
// reports: editors save in bursts (write a temp file, rename it over the
// original, chmod), and a model download writes for minutes.
const DefaultDebounce = 250 * time.Millisecond

// Watch calls changed whenever something in one of dirs changes (the
// settings file's folder, the models folder), once per burst of changes.
// It watches folders, not files, because editors replace a file by renaming
// a new one over it, which ends a watch on the old file. A folder that does
// not exist yet is watched through its nearest existing parent and picked up
// when it appears. It uses inotify (fsnotify), not polling: polling the file
// every 500 ms would cost more CPU than the whole idle agent.
//
// dirs is asked again after every reported change, so a new models_dir is
// followed. Watch returns when ctx is done; dirs and changed are called from
// Watch's goroutine.
func Watch(ctx context.Context, dirs func() []string, debounce time.Duration, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	// rewatch adds what is missing. It asks the watcher what it watches
	// rather than remembering: a folder that was deleted (and maybe made
	// again) has silently lost its watch.
	current := dirs()
	rewatch := func() {
		watched := map[string]bool{}
		for _, p := range w.WatchList() {
			watched[p] = true
		}
		for _, d := range current {
			if target := nearestExisting(d); target != "" && !watched[target] {
				w.Add(target)
			}
		}
	}
	rewatch()
	relevant := func(name string) bool {
		for _, d := range current {
			if name == d || strings.HasPrefix(name, d+string(filepath.Separator)) || strings.HasPrefix(d, name+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	var timer *time.Timer
	var fire <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !relevant(filepath.Clean(ev.Name)) {
				continue
			}
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				rewatch() // a watched folder may have just appeared or gone
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case <-w.Errors:
			// An overflow means events were lost: treat it as a change.
			rewatch()
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			rewatch()
			changed()
			// The change may have moved models_dir. A folder no longer of
			// interest keeps its watch; its events are filtered out.
			current = dirs()
			rewatch()
		}
	}
}

// nearestExisting returns dir or its closest ancestor that is a directory.
func nearestExisting(dir string) string {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
		if parent := filepath.Dir(d); parent == d {
			return ""
		}
	}
}
