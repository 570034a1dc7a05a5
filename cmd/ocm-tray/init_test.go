package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindModels(t *testing.T) {
	for _, tc := range []struct {
		name   string
		files  []string
		chosen string
		ids    int
	}{
		{"none", nil, "", 0},
		{"one", []string{"qwen.gguf"}, "qwen", 1},
		{"a split model is one", []string{"big-00001-of-00003.gguf", "big-00002-of-00003.gguf", "big-00003-of-00003.gguf"}, "big-00001-of-00003", 1},
		{"a projector is not a model", []string{"llava.gguf", "mmproj-llava-f16.gguf"}, "llava", 1},
		{"downloads and hidden files are not models", []string{"qwen.gguf", "next.gguf.part", ".tmp.gguf", "notes.txt"}, "qwen", 1},
		{"upper-case .GGUF is not found by the gate", []string{"QWEN.GGUF"}, "", 0},
		{"two: no choice", []string{"a.gguf", "b.gguf"}, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				os.WriteFile(filepath.Join(dir, f), []byte("GGUF"), 0o644)
			}
			os.Mkdir(filepath.Join(dir, "folder.gguf"), 0o755) // never a model
			got := findModels(dir)
			if got.chosen() != tc.chosen || len(got.ids) != tc.ids {
				t.Fatalf("findModels = %+v, want %q of %d", got, tc.chosen, tc.ids)
			}
			if tc.ids == 0 && !strings.Contains(got.how, "no .gguf model in "+dir) {
				t.Errorf("how = %q", got.how)
			}
			if tc.ids > 1 && !strings.Contains(got.how, "a, b") {
				t.Errorf("how = %q, want the models listed", got.how)
			}
		})
	}
	if got := findModels(filepath.Join(t.TempDir(), "missing")); got.chosen() != "" || !strings.Contains(got.how, "no .gguf model") {
		t.Fatalf("missing folder: %+v", got)
	}
}

func TestFindBinary(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("PATH", t.TempDir()) // nothing on PATH
	sys := t.TempDir()
	old := installDirs
	installDirs = []string{"~/.local/bin", sys}
	t.Cleanup(func() { installDirs = old })

	exe := func(dir string) string {
		t.Helper()
		os.MkdirAll(dir, 0o755)
		p := filepath.Join(dir, binaryName)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}

	got := findBinary()
	if got.chosen() != "" || !strings.Contains(got.how, "looked on PATH and in ~/.local/bin, "+sys) {
		t.Fatalf("nothing installed: %+v", got)
	}

	// Not executable: not a choice.
	os.WriteFile(filepath.Join(sys, binaryName), []byte("x"), 0o644)
	if got := findBinary(); got.chosen() != "" {
		t.Fatalf("a non-executable file was chosen: %+v", got)
	}

	local := exe(filepath.Join(home, ".local", "bin"))
	if got := findBinary(); got.chosen() != local || got.how != "found in "+filepath.Dir(local) {
		t.Fatalf("one in ~/.local/bin: %+v", got)
	}

	// A symlink to the same file counts once.
	os.Remove(filepath.Join(sys, binaryName))
	os.Symlink(local, filepath.Join(sys, binaryName))
	if got := findBinary(); got.chosen() != local {
		t.Fatalf("a symlink to the same binary: %+v", got)
	}

	// Two different ones: no choice, both named.
	os.Remove(filepath.Join(sys, binaryName))
	other := exe(sys)
	got = findBinary()
	if got.chosen() != "" || !strings.Contains(got.how, local) || !strings.Contains(got.how, other) {
		t.Fatalf("two binaries: %+v", got)
	}

	// PATH wins, the others are mentioned.
	onPath := exe(t.TempDir())
	t.Setenv("PATH", filepath.Dir(onPath))
	got = findBinary()
	if got.chosen() != onPath || got.how != "found on PATH" || len(got.others) != 2 {
		t.Fatalf("on PATH: %+v", got)
	}
}
