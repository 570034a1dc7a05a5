package settings

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/models"
)

// TestGateModelFiles runs the gate on real model files in every state a
// download or a copy can leave them: the reason must say which and how far
// along, exactly.
func TestGateModelFiles(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	bin := filepath.Join(home, "llama-server")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, "models")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := func(id string) string { return filepath.Join(dir, id+".gguf") }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tiny := gguftest.Tiny()
	big := gguftest.Model("big", gguftest.FileTypeF16, gguftest.Tensor{Type: gguftest.F16, Dims: []uint64{50000, 47000}})

	must(tiny.Write(path("good")))
	must(big.WriteSize(path("half"), 1_200_000_000))
	must(tiny.WriteSize(path("header"), 100))
	must(os.WriteFile(path("text"), []byte("<html>404 Not Found</html>\n"), 0o644))
	must(gguftest.Settle(path("text")))
	must(os.WriteFile(path("empty"), nil, 0o644))
	must(gguftest.Settle(path("empty")))
	must(big.WriteSize(path("growing"), 1_200_000_000)) // dated an hour back...
	now := time.Now()
	must(os.Chtimes(path("growing"), now, now)) // ...and written to just now
	v1 := tiny
	v1.Version = 1
	must(v1.Write(path("old")))
	for i := 1; i <= 3; i++ {
		must(tiny.Write(path(models.Split{Base: "split", No: i, Count: 3}.PartID(i))))
	}
	for _, i := range []int{1, 3} {
		must(tiny.Write(path(models.Split{Base: "gap", No: i, Count: 3}.PartID(i))))
	}
	for i := 1; i <= 2; i++ {
		must(tiny.Write(path(models.Split{Base: "cut", No: i, Count: 2}.PartID(i))))
	}
	must(tiny.WriteSize(path("cut-00002-of-00002"), tiny.Size()-10))

	for _, tc := range []struct {
		id, reason string
		settle     bool
	}{
		{id: "good"},
		{id: "half", reason: "model file ~/models/half.gguf is incomplete: 1.2 of 4.7 GB"},
		{id: "header", reason: "model file ~/models/header.gguf is incomplete: 100 bytes, cut short inside its header"},
		{id: "text", reason: "model file ~/models/text.gguf is not a GGUF file"},
		{id: "empty", reason: "model file ~/models/empty.gguf is not a GGUF file (it is empty)"},
		{id: "growing", reason: "model file ~/models/growing.gguf is still being written (1.2 GB so far)", settle: true},
		{id: "old", reason: "model file ~/models/old.gguf is damaged (bad GGUF header at byte 8: GGUF version 1, which llama.cpp no longer reads): download it again"},
		{id: "split-00001-of-00003"},
		{id: "gap-00001-of-00003", reason: "model file ~/models/gap-00002-of-00003.gguf not found: a split model needs all 3 parts"},
		{id: "cut-00001-of-00002", reason: "model file ~/models/cut-00002-of-00002.gguf is incomplete: 694 of 704 bytes"},
		{id: "fifo", reason: "model file ~/models/fifo.gguf is a named pipe (FIFO), not a .gguf file"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			if tc.id == "fifo" {
				testenv.Mkfifo(t, path("fifo"))
			}
			s := Settings{Backend: BackendLlamaCpp, ModelID: tc.id, LlamaServerBinary: bin}
			d := Gate(s, dir, OSFS{})
			if d.Reason != tc.reason || d.Spawn != (tc.reason == "") || (d.Settle > 0) != tc.settle {
				t.Fatalf("Gate = %+v\nwant reason %q, settle %v", d, tc.reason, tc.settle)
			}
			if d.Spawn && d.ModelPath != path(tc.id) {
				t.Fatalf("ModelPath = %q", d.ModelPath)
			}
		})
	}
}
