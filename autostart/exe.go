package autostart

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// ErrInvalidExe is returned by Enable for an executable path that cannot, or
// should not, be written into a desktop entry (on Windows: the Run key).
var ErrInvalidExe = errors.New("autostart: unusable executable path")

// ErrTemporaryExe is returned by Enable for an executable in a temporary or
// build-cache folder (what `go run` runs): it is gone after a reboot or a
// cache trim, and the entry would start nothing.
var ErrTemporaryExe = errors.New("autostart: refusing a temporary build")

// temporaryFolder names the temporary or build-cache folder exe lives in,
// or returns "". `go run` builds into $TMPDIR/go-buildNNN/ (and caches
// tools under GOCACHE, by default ~/.cache/go-build/); `go build -o` into
// the temporary folder is the other way to get a binary that will vanish.
func temporaryFolder(exe string) string {
	exe = resolve(exe)
	for _, part := range strings.Split(filepath.ToSlash(exe), "/") {
		if rest, ok := strings.CutPrefix(part, "go-build"); ok && strings.Trim(rest, "0123456789") == "" {
			return "a Go build folder (" + part + "; go run builds there)"
		}
	}
	if cache := os.Getenv("GOCACHE"); cache != "" && within(exe, resolve(cache)) {
		return "the Go build cache " + cache
	}
	if tmp := os.TempDir(); within(exe, resolve(tmp)) {
		return "the temporary folder " + tmp
	}
	return ""
}

// resolve follows symbolic links where it can (macOS's /tmp is one).
func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// within reports whether p is inside dir.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
