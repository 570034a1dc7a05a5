package settings

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits after the last change before it
// reports: editors save in bursts (write a temp file, rename it over the
// original, chmod), and a model download writes for minutes.
const DefaultDebounce = 250 * time.Millisecond

// Watched is what Watch follows.
type Watched struct {
	// Files are files whose every change matters: the settings file. A
	// file is followed through symbolic links, since dotfile managers
	// (stow, home-manager, chezmoi) link the settings file, or its folder,
	// to one kept elsewhere: editing the file linked to counts, and so does
	// pointing any link on the way somewhere else.
	Files []string
	// Dirs are folders a change anywhere in which matters: the models
	// folder. They are followed through symbolic links the same way.
	Dirs []string
}

// Watch calls changed whenever something it is asked to follow changes,
// once per burst of changes. It watches the folders that hold what it
// follows, not the files, because editors replace a file by renaming a new
// one over it, which ends a watch on the old file; and it watches by the
// folders' real paths, so that a link re-pointed is a new folder to watch.
// Something that does not exist yet is watched through its nearest existing
// parent and picked up when it appears. It uses inotify (fsnotify), not
// polling: polling the file every 500 ms would cost more CPU than the whole
// idle agent.
//
// what is asked again after every reported change, so a new models_dir is
// followed. Watch returns when ctx is done; what and changed are called
// from Watch's goroutine.
func Watch(ctx context.Context, what func() Watched, debounce time.Duration, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	current := what()
	var spots []spot
	// rewatch finds the folders to watch again, since a link may have
	// been re-pointed or a folder made, and makes the watcher watch exactly
	// those. It asks the watcher what it watches rather than remembering:
	// a folder that was deleted (and maybe made again) has silently lost
	// its watch.
	rewatch := func() {
		spots = spotsOf(current)
		want := map[string]bool{}
		for _, s := range spots {
			want[s.dir] = true
		}
		for _, p := range w.WatchList() {
			if want[p] {
				delete(want, p)
			} else {
				_ = w.Remove(p) // gone already, or no longer of interest
			}
		}
		for d := range want {
			// A folder that cannot be watched (gone again meanwhile) is
			// retried at the next event.
			_ = w.Add(d)
		}
	}
	rewatch()
	var timer *time.Timer
	var fire <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	arm := func() {
		if timer == nil {
			timer = time.NewTimer(debounce)
		} else {
			timer.Reset(debounce)
		}
		fire = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !relevant(spots, filepath.Clean(ev.Name)) {
				continue
			}
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				rewatch() // a folder or a link on the way may have appeared, gone or moved
			}
			arm()
		case <-w.Errors:
			// An overflow means events were lost: treat it as a change.
			rewatch()
			arm()
		case <-fire:
			fire = nil
			rewatch()
			changed()
			// The change may have moved models_dir.
			current = what()
			rewatch()
		}
	}
}

// spot is a place where a change matters: the entry name in the folder
// dir (a real path, without symbolic links), or anything in dir when name
// is "".
type spot struct{ dir, name string }

// relevant reports whether an event on name touches one of spots. The
// watched folder itself going away counts too.
func relevant(spots []spot, name string) bool {
	for _, s := range spots {
		switch {
		case name == s.dir:
			return true
		case s.name == "":
			if filepath.Dir(name) == s.dir {
				return true
			}
		case name == filepath.Join(s.dir, s.name):
			return true
		}
	}
	return false
}

func spotsOf(wd Watched) []spot {
	var spots []spot
	for _, f := range wd.Files {
		spots = append(spots, spotsFor(f, false)...)
	}
	for _, d := range wd.Dirs {
		spots = append(spots, spotsFor(d, true)...)
	}
	return spots
}

// maxLinks bounds how many symbolic links spotsFor follows, as the kernel
// does, so that a loop of links ends.
const maxLinks = 40

// spotsFor returns the places where a change may change what path is,
// resolving it one name at a time as the system does: for each symbolic
// link met on the way, the link in the folder that holds it (re-pointing
// the link changes what path is); then path's own entry in the real folder
// that holds it, or, for a folder (isDir), anything in it. Where the way
// ends at a name that does not exist, it is that name in the last folder
// that does, so that its appearing is seen.
func spotsFor(path string, isDir bool) []spot {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	vol := filepath.VolumeName(abs)
	dir := vol + string(filepath.Separator) // resolved so far: a real folder
	rest := splitPath(abs[len(vol):])
	var spots []spot
	for links := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			dir = filepath.Dir(dir)
			continue
		}
		next := filepath.Join(dir, name)
		fi, err := os.Lstat(next)
		switch {
		case err != nil:
			return append(spots, spot{dir, name})
		case fi.Mode()&fs.ModeSymlink != 0:
			spots = append(spots, spot{dir, name})
			target, err := os.Readlink(next)
			if links++; err != nil || links > maxLinks {
				return spots
			}
			if filepath.IsAbs(target) {
				vol = filepath.VolumeName(target)
				dir = vol + string(filepath.Separator)
				target = target[len(vol):]
			}
			rest = append(splitPath(target), rest...)
		case len(rest) == 0 && isDir && fi.IsDir():
			return append(spots, spot{next, ""})
		case len(rest) == 0:
			return append(spots, spot{dir, name})
		default:
			dir = next
		}
	}
	// The path is a root, or ends in "..".
	return append(spots, spot{dir, ""})
}

// splitPath splits a path into its names, dropping empty ones and ".".
func splitPath(p string) []string {
	names := strings.FieldsFunc(p, func(r rune) bool { return r < 0x80 && os.IsPathSeparator(uint8(r)) })
	return slices.DeleteFunc(names, func(n string) bool { return n == "." })
}
