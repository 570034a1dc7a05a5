package settings

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// watchHarness runs Watch over dirs and counts calls.
func watchHarness(t *testing.T, dirs ...string) <-chan struct{} {
	t.Helper()
	calls := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, func() []string { return dirs }, 20*time.Millisecond, func() { calls <- struct{}{} })
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
	select {
	case <-calls:
	case <-time.After(5 * time.Second):
		t.Fatalf("no change reported after %s", what)
	}
}

// untilCall repeats act until a change is reported: the watch is set up in
// Watch's goroutine, so the first act may come before it.
func untilCall(t *testing.T, calls <-chan struct{}, what string, act func()) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		act()
		select {
		case <-calls:
			return
		case <-time.After(time.Second): // longer than any debounce used here
		}
		if time.Now().After(deadline) {
			t.Fatalf("no change reported after %s", what)
		}
	}
}

// Editors replace the file by renaming a new one over it: still seen.
func TestWatchSeesRenameOverTheFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "settings.toml")
	os.WriteFile(file, []byte("backend = \"auto\"\n"), 0o644)
	calls := watchHarness(t, dir)
	tmp := filepath.Join(dir, ".settings.toml.swp")
	untilCall(t, calls, "rename over the settings file", func() {
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
	calls := watchHarness(t, models)
	untilCall(t, calls, "creating the models folder", func() {
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

func TestWatchDebouncesBursts(t *testing.T) {
	dir := t.TempDir()
	calls := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, func() []string { return []string{dir} }, 300*time.Millisecond, func() { calls <- struct{}{} })
	}()
	defer func() { cancel(); <-done }()
	f := filepath.Join(dir, "m.gguf.part")
	untilCall(t, calls, "a first write", func() { os.WriteFile(f, []byte("x"), 0o644) })
	start := time.Now()
	for time.Since(start) < 150*time.Millisecond {
		os.WriteFile(f, []byte("x"), 0o644)
	}
	wantCall(t, calls, "a burst of writes")
	select {
	case <-calls:
		t.Fatal("one burst reported twice")
	case <-time.After(600 * time.Millisecond):
	}
}
