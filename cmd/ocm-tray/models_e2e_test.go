//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
)

// TestDownloadToFinalNameStartsOnceSettled writes a model straight to its
// final name in bursts, as curl -o or a browser without a .part file does.
// While it grows the agent must say so and start nothing; once the writes
// stop, it must start the server on its own: no file event comes after the
// last write.
func TestDownloadToFinalNameStartsOnceSettled(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", false)
	e.startAgent()
	e.waitState("not_spawning")

	model := gguftest.Model("dl", gguftest.FileTypeF16, gguftest.Tensor{Type: gguftest.F32, Dims: []uint64{64 << 10}})
	whole := filepath.Join(t.TempDir(), "whole.gguf")
	if err := model.Write(whole); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(e.models, "tiny.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// Four bursts, each followed by a pause longer than the watcher's
	// debounce, so the agent looks at the file between them.
	chunk := (len(data) + 3) / 4
	sawWriting := false
	for i := 0; i < len(data); i += chunk {
		if _, err := f.Write(data[i:min(i+chunk, len(data))]); err != nil {
			t.Fatal(err)
		}
		pause := time.Now().Add(700 * time.Millisecond)
		for time.Now().Before(pause) {
			st := e.status()
			if pidOf(st) != 0 || st["state"] == "starting" || st["state"] == "running" {
				t.Fatalf("started on a file still being written: %v", st)
			}
			if r, _ := st["reason"].(string); strings.Contains(r, "tiny.gguf is still being written (") && strings.HasSuffix(r, " so far)") {
				sawWriting = true
			}
			time.Sleep(20 * time.Millisecond) // polling another process
		}
	}
	if !sawWriting {
		t.Fatal("never said the model file is still being written")
	}
	st := e.waitState("running")
	if st["model"] != "tiny" {
		t.Fatalf("status %v", st)
	}
}
