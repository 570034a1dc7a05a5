//go:build unix

package settings

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// mkfifo makes a named pipe at path.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo %s: %v", path, err)
	}
}

// releaseFIFO unblocks a reader stuck in open(2) on the pipe at path, so a
// test that failed does not leave a goroutine blocked for ever: opening the
// write end completes the reader's open, closing it gives the reader EOF.
func releaseFIFO(path string) {
	if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		f.Close()
	}
}

// loadWithin runs Load and fails the test if it has not returned by the
// deadline: a blocked open on a pipe never returns by itself.
func loadWithin(t *testing.T, path string, explicit bool) []Problem {
	t.Helper()
	done := make(chan []Problem, 1)
	go func() {
		_, probs := Load(path, explicit)
		done <- probs
	}()
	deadline := time.After(testenv.WaitLimit)
	for {
		select {
		case probs := <-done:
			return probs
		case <-deadline:
			releaseFIFO(path)
			<-done
			t.Fatalf("Load(%s) blocked", path)
		}
	}
}

// A named pipe, a socket or a device at the settings path is refused at
// once, with a message naming the path and what it is, whether it is the
// default path or --config, in Load and in `ocm-tray check`.
func TestLoadRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "settings.toml")
	mkfifo(t, fifo)
	// The fix says what to do about the path: with --config, name another
	// file; at the default path, move the thing out of the way.
	for explicit, fix := range map[bool]string{true: "point --config at a settings.toml file", false: "move it away (mv " + fifo + " " + fifo + ".old)"} {
		probs := loadWithin(t, fifo, explicit)
		if len(probs) != 1 || probs[0].File != fifo || !strings.Contains(probs[0].Msg, "is a named pipe (FIFO), not a regular file") || !strings.Contains(probs[0].Fix, fix) {
			t.Fatalf("Load(FIFO, explicit=%v) = %v, want the fix %q", explicit, probs, fix)
		}
	}
	if probs := loadWithin(t, dir, false); len(probs) != 1 || !strings.Contains(probs[0].Msg, "is a directory") || strings.Contains(probs[0].Fix, "--config") {
		t.Fatalf("Load(directory at the default path) = %v: a fix naming --config, which was not used", probs)
	}
	lines, valid := Check(fifo, true, filepath.Join(dir, "models"))
	if valid || len(lines) != 2 || !strings.HasPrefix(lines[0], fifo+": is a named pipe (FIFO)") {
		t.Fatalf("Check(FIFO) = %v\n%s", valid, strings.Join(lines, "\n"))
	}

	if _, err := os.Stat("/dev/null"); err == nil {
		probs := loadWithin(t, "/dev/null", true)
		if len(probs) != 1 || !strings.Contains(probs[0].Msg, "is a device, not a regular file") {
			t.Fatalf("Load(/dev/null) = %v", probs)
		}
	}
}

// The race the check above cannot close: the path is a regular file when
// it is looked at and a named pipe when it is opened. A swapper puts one and
// then the other at the path as fast as it can while Load runs again and
// again; an open without O_NONBLOCK blocks on the pipe for ever, since no
// one writes to it. The swapper hard-links both from names it keeps, so a
// blocked Load can always be released through the pipe's kept name.
func TestLoadNeverBlocksOnASwappedInPipe(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "settings.toml")
	pipe, file, tmp := filepath.Join(dir, "pipe"), filepath.Join(dir, "file"), filepath.Join(dir, "tmp")
	mkfifo(t, pipe)
	if err := os.WriteFile(file, []byte("backend = \"ollama\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	put := func(from string) {
		os.Remove(tmp)
		if err := os.Link(from, tmp); err != nil {
			t.Error(err)
			return
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Error(err)
		}
	}
	put(file)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				put(pipe)
				put(file)
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	seen := map[string]int{}
	for i := 0; i < 2000 || seen["file"] == 0 || seen["pipe"] == 0; i++ {
		if i > 100000 {
			t.Fatalf("the swap was never seen both ways: %v", seen)
		}
		done := make(chan []Problem, 1)
		go func() {
			_, probs := Load(path, true)
			done <- probs
		}()
		select {
		case probs := <-done:
			switch {
			case len(probs) == 0:
				seen["file"]++
			case strings.Contains(probs[0].Msg, "named pipe"):
				seen["pipe"]++
			default:
				t.Fatalf("Load = %v", probs)
			}
		case <-time.After(testenv.WaitLimit):
			releaseFIFO(pipe)
			<-done
			t.Fatalf("Load blocked on a named pipe swapped in after %d loads (%v)", i, seen)
		}
	}
}

// A pipe swapped in while the agent runs: the watcher reports the change,
// the reload it runs returns with a problem instead of hanging the watcher,
// and putting a regular file back is noticed and loads.
func TestWatchSurvivesAPipeSwappedIn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "settings.toml")
	if err := os.WriteFile(path, []byte("backend = \"ollama\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loads := make(chan []Problem, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, func() Watched { return Watched{Files: []string{path}} }, 20*time.Millisecond, func() {
			_, probs := Load(path, false)
			select {
			case loads <- probs:
			default: // the test has stopped reading
			}
		})
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(testenv.WaitLimit):
			releaseFIFO(path)
			t.Errorf("Watch did not return: blocked in a reload")
			<-done
		}
	}()
	waitLoad := func(what string, ok func([]Problem) bool) {
		t.Helper()
		deadline := time.After(testenv.WaitLimit)
		for {
			select {
			case probs := <-loads:
				if ok(probs) {
					return
				}
			case <-deadline:
				releaseFIFO(path)
				t.Fatalf("no reload after %s", what)
			}
		}
	}
	tmp := filepath.Join(dir, "new.tmp")
	// The watch is set up in Watch's goroutine: touch the file until a
	// first reload proves it is in place.
	testenv.Eventually(t, "a reload after writing the settings file", func() bool {
		os.WriteFile(path, []byte("backend = \"ollama\"\n"), 0o600)
		select {
		case <-loads:
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})
	os.Remove(tmp)
	mkfifo(t, tmp)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitLoad("a pipe swapped in", func(p []Problem) bool {
		return len(p) == 1 && strings.Contains(p[0].Msg, "named pipe")
	})
	if err := os.WriteFile(tmp, []byte("backend = \"ollama\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitLoad("a regular file put back", func(p []Problem) bool { return len(p) == 0 })
}

// The gate never hands llama-server a pipe or a device as the model: the
// server would block opening it until the startup timeout, and a device
// could be read for ever.
func TestGateRefusesSpecialModelFiles(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "llama-server")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, filepath.Join(dir, "pipe.gguf"))
	s := Settings{Backend: BackendLlamaCpp, ModelID: "pipe", LlamaServerBinary: bin}
	d := Gate(s, dir, OSFS{})
	want := "model file " + filepath.Join(dir, "pipe.gguf") + " is a named pipe (FIFO), not a .gguf file"
	if d.Spawn || d.Reason != want {
		t.Fatalf("Gate(model is a pipe) = %+v, want reason %q", d, want)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.gguf")); err == nil {
		s.ModelID = "zero"
		if d := Gate(s, dir, OSFS{}); d.Spawn || !strings.Contains(d.Reason, "is a device") {
			t.Fatalf("Gate(model is /dev/zero) = %+v", d)
		}
	} else if !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
}
