package settings

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// watchHarness runs Watch over what and counts calls.
func watchHarness(t *testing.T, what Watched) <-chan struct{} {
	t.Helper()
	calls := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, func() Watched { return what }, 20*time.Millisecond, func() { calls <- struct{}{} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	return calls
}

func wantCall(t *testing.T, calls <-chan struct{}, what string) {
	t.Helper()
	testenv.Recv(t, calls, "a change reported after "+what)
}

// untilCall repeats act until a change is reported: the watch is set up in
// Watch's goroutine, so the first act may come before it. Each act waits
// retry (longer than the debounce) for its report.
func untilCall(t *testing.T, calls <-chan struct{}, what string, retry time.Duration, act func()) {
	t.Helper()
	testenv.Eventually(t, "a change reported after "+what, func() bool {
		act()
		select {
		case <-calls:
			return true
		case <-time.After(retry):
			return false
		}
	})
}

// settle returns once no change has been reported for quiet: whatever
// earlier acts set off has come through.
func settle(calls <-chan struct{}, quiet time.Duration) {
	for {
		select {
		case <-calls:
		case <-time.After(quiet):
			return
		}
	}
}

// Editors replace the file by renaming a new one over it: still seen.
func TestWatchSeesRenameOverTheFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "settings.toml")
	os.WriteFile(file, []byte("backend = \"auto\"\n"), 0o644)
	calls := watchHarness(t, Watched{Files: []string{file}})
	tmp := filepath.Join(dir, ".settings.toml.swp")
	untilCall(t, calls, "rename over the settings file", time.Second, func() {
		os.WriteFile(tmp, []byte("backend = \"llamacpp\"\n"), 0o644)
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	})
}

// A folder that does not exist yet (no models downloaded) is picked up when
// it appears, and a model file arriving in it is reported.
func TestWatchFolderCreatedLater(t *testing.T) {
	base := t.TempDir()
	models := filepath.Join(base, "ocm", "models")
	calls := watchHarness(t, Watched{Dirs: []string{models}})
	untilCall(t, calls, "creating the models folder", time.Second, func() {
		os.RemoveAll(filepath.Join(base, "ocm"))
		if err := os.MkdirAll(models, 0o755); err != nil {
			t.Fatal(err)
		}
	})
	// Drain any burst, then a file arrives.
	for len(calls) > 0 {
		<-calls
	}
	// The folder is now watched itself: one write is reported.
	os.WriteFile(filepath.Join(models, "m.gguf"), []byte("GGUF"), 0o644)
	wantCall(t, calls, "a model file arriving")
}

// A burst of writes, each closer to the next than the debounce, is
// reported once. The test checks its own premise: on a loaded machine the
// writes of a burst may get spread out, and such a try proves nothing.
func TestWatchDebouncesBursts(t *testing.T) {
	const debounce = time.Second
	dir := t.TempDir()
	calls := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, func() Watched { return Watched{Dirs: []string{dir}} }, debounce, func() { calls <- struct{}{} })
	}()
	defer func() { cancel(); <-done }()
	f := filepath.Join(dir, "m.gguf.part")
	untilCall(t, calls, "a first write", 2*debounce, func() { os.WriteFile(f, []byte("x"), 0o644) })
	for try := 1; ; try++ {
		settle(calls, 2*debounce)
		var gap time.Duration // the longest pause between two writes
		last := time.Now()
		for range 10 {
			os.WriteFile(f, []byte("x"), 0o644)
			now := time.Now()
			gap, last = max(gap, now.Sub(last)), now
		}
		wantCall(t, calls, "a burst of writes")
		if gap < debounce/4 {
			select {
			case <-calls:
				t.Fatalf("one burst (10 writes at most %v apart) reported twice", gap)
			case <-time.After(2 * debounce): // the absence of a second report
			}
			return
		}
		if try == 10 {
			t.Fatalf("in 10 bursts of 10 writes, writes were %v or more apart: no burst to test", debounce/4)
		}
		t.Logf("writes %v apart: too far for one burst with a %v debounce; again", gap, debounce)
	}
}

// drain empties calls of what earlier acts reported.
func drain(calls <-chan struct{}) {
	for len(calls) > 0 {
		<-calls
	}
}

// relink points the symbolic link at link to target the way `ln -sfn`
// and dotfile managers do: a new link renamed over the old one.
func relink(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// repointThenEdit points link at target and waits for that to be
// reported, then edits until the edit is reported too: the watch must have
// moved to where the link now leads.
func repointThenEdit(t *testing.T, calls <-chan struct{}, target, link string, edit func()) {
	t.Helper()
	drain(calls)
	relink(t, target, link)
	wantCall(t, calls, "pointing "+link+" at "+target)
	drain(calls)
	untilCall(t, calls, "an edit where "+link+" now leads", time.Second, edit)
}

// symlinkAt makes a symbolic link at link to target, and link's folder.
func symlinkAt(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// writeIn writes content to path and returns path.
func writeIn(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// xdgConfigFile points the XDG directories at a scratch home and returns
// the settings path the agent would use there.
func xdgConfigFile(t *testing.T) (home, config string) {
	t.Helper()
	home = t.TempDir()
	setXDG(t, map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		"XDG_DATA_HOME": filepath.Join(home, ".local", "share"), "XDG_STATE_HOME": filepath.Join(home, ".local", "state")})
	p, err := ResolvePaths("")
	if err != nil {
		t.Fatal(err)
	}
	return home, p.ConfigFile
}

// A settings file that is a symbolic link into a dotfiles folder (stow,
// chezmoi, home-manager): editing the file it points to is a change, in
// place or by an editor's rename; so is pointing the link at another file,
// whose edits then count.
func TestWatchFollowsASymlinkedSettingsFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	home, config := xdgConfigFile(t)
	target := writeIn(t, filepath.Join(home, "dotfiles", "ocm", "settings.toml"), "backend = \"auto\"\n")
	symlinkAt(t, target, config)
	calls := watchHarness(t, Watched{Files: []string{config}})

	untilCall(t, calls, "editing the file the settings link points to", time.Second, func() {
		writeIn(t, target, "backend = \"ollama\"\n")
	})
	drain(calls)
	untilCall(t, calls, "an editor renaming a new file over the target", time.Second, func() {
		tmp := writeIn(t, target+".swp", "backend = \"llamacpp\"\n")
		if err := os.Rename(tmp, target); err != nil {
			t.Fatal(err)
		}
	})

	other := writeIn(t, filepath.Join(home, "elsewhere", "settings.toml"), "backend = \"auto\"\n")
	repointThenEdit(t, calls, other, config, func() { writeIn(t, other, "backend = \"ollama\"\n") })
}

// A settings folder that is a symbolic link (stow folds a whole folder
// into one link), reached through a chain of links: re-pointing the folder
// link is a change, and edits in the new folder count.
func TestWatchFollowsASymlinkedSettingsFolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	home, config := xdgConfigFile(t)
	v1 := writeIn(t, filepath.Join(home, "dotfiles", "v1", "settings.toml"), "backend = \"auto\"\n")
	v2 := writeIn(t, filepath.Join(home, "dotfiles", "v2", "real.toml"), "backend = \"auto\"\n")
	// v2's settings.toml is itself a relative link to real.toml.
	symlinkAt(t, "real.toml", filepath.Join(filepath.Dir(v2), "settings.toml"))
	folder := filepath.Dir(config) // ~/.config/ocm, a link to a folder
	symlinkAt(t, filepath.Dir(v1), folder)
	calls := watchHarness(t, Watched{Files: []string{config}})
	untilCall(t, calls, "editing the settings file in the linked folder", time.Second, func() {
		writeIn(t, v1, "backend = \"ollama\"\n")
	})
	// The edit is at the end of a chain of links.
	repointThenEdit(t, calls, "../dotfiles/v2", folder, func() { writeIn(t, v2, "backend = \"ollama\"\n") })
}

// A models folder that is a symbolic link: re-pointing it is a change, and
// a model arriving in the new folder is seen.
func TestWatchFollowsASymlinkedModelsFolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	root := t.TempDir()
	disk1, disk2 := filepath.Join(root, "disk1"), filepath.Join(root, "disk2")
	for _, d := range []string{disk1, disk2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	models := filepath.Join(root, "data", "models")
	symlinkAt(t, disk1, models)
	calls := watchHarness(t, Watched{Dirs: []string{models}})
	untilCall(t, calls, "a model arriving in the linked folder", time.Second, func() {
		writeIn(t, filepath.Join(disk1, "a.gguf"), "GGUF")
	})
	repointThenEdit(t, calls, disk2, models, func() { writeIn(t, filepath.Join(disk2, "b.gguf"), "GGUF") })
}

// spotsFor resolves a path one name at a time: each link on the way, then
// the entry at the end, or the name that would appear where it stops.
func TestSpotsFor(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	j := func(p ...string) string { return filepath.Join(append([]string{root}, p...)...) }
	writeIn(t, j("real", "f.toml"), "")
	os.Symlink("real", j("dirlink"))
	os.Symlink(j("dirlink", "f.toml"), j("filelink"))
	os.Symlink("loop2", j("loop1"))
	os.Symlink("loop1", j("loop2"))
	for _, tc := range []struct {
		path  string
		isDir bool
		want  []spot
	}{
		{j("real", "f.toml"), false, []spot{{j("real"), "f.toml"}}},
		{j("real"), true, []spot{{j("real"), ""}}},
		{j("filelink"), false, []spot{{root, "filelink"}, {root, "dirlink"}, {j("real"), "f.toml"}}},
		{j("dirlink"), true, []spot{{root, "dirlink"}, {j("real"), ""}}},
		{j("missing", "ocm", "settings.toml"), false, []spot{{root, "missing"}}},
		{j("dirlink", "missing.toml"), false, []spot{{root, "dirlink"}, {j("real"), "missing.toml"}}},
		{j("real", "f.toml", "x"), false, []spot{{j("real", "f.toml"), "x"}}},
	} {
		if got := spotsFor(tc.path, tc.isDir); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("spotsFor(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}
	if got := spotsFor(j("loop1"), false); len(got) != maxLinks+1 {
		t.Errorf("a loop of links gave %d spots, want %d", len(got), maxLinks+1)
	}
}
