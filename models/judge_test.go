package models_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/models"
)

// big is a 4.7 GB model: one F16 tensor of 2.35e9 weights. Written sparse.
func big() gguftest.File {
	return gguftest.Model("big", gguftest.FileTypeF16, gguftest.Tensor{Type: gguftest.F16, Dims: []uint64{50000, 47000}})
}

// TestJudgeFile judges real files written to disk, one per way a model
// file can be.
func TestJudgeFile(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, f func(path string) error) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := f(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	raw := func(b []byte) func(string) error {
		return func(p string) error {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return err
			}
			return gguftest.Settle(p)
		}
	}
	tiny := gguftest.Tiny()
	aligned := gguftest.Model("aligned", gguftest.FileTypeQ4_KM,
		gguftest.Tensor{Type: gguftest.Q4_K, Dims: []uint64{256, 4}},
		gguftest.Tensor{Type: gguftest.F32, Dims: []uint64{3}})
	aligned.KV = append(aligned.KV, gguftest.KV{Key: "general.alignment", Value: uint32(4096)})
	unknownType := gguftest.Model("odd", 1, gguftest.Tensor{Type: 4, Dims: []uint64{32}})
	v1 := tiny
	v1.Version = 1
	v2 := tiny
	v2.Version = 2
	v9 := tiny
	v9.Version = 9
	bigEndian := []byte("GGUF\x00\x00\x00\x03")

	for _, tc := range []struct {
		name    string
		path    string
		problem models.Problem
		size    int64
		want    int64
		detail  string
	}{
		{name: "complete", path: write("tiny.gguf", tiny.Write), size: tiny.Size()},
		{name: "no tensors", path: write("empty-model.gguf", gguftest.File{}.Write), size: gguftest.File{}.Size()},
		{name: "alignment 4096", path: write("aligned.gguf", aligned.Write), size: aligned.Size()},
		{name: "version 2", path: write("v2.gguf", v2.Write), size: v2.Size()},
		{name: "data cut short", path: write("cut.gguf", func(p string) error { return tiny.WriteSize(p, tiny.Size()-1) }),
			problem: models.Incomplete, size: tiny.Size() - 1, want: tiny.Size()},
		{name: "4.7 GB cut at 1.2", path: write("big.gguf", func(p string) error { return big().WriteSize(p, 1_200_000_000) }),
			problem: models.Incomplete, size: 1_200_000_000, want: big().Size()},
		{name: "header cut short", path: write("header.gguf", func(p string) error { return tiny.WriteSize(p, 40) }),
			problem: models.Incomplete, size: 40},
		{name: "magic only", path: write("magic.gguf", raw([]byte("GGUF"))), problem: models.Incomplete, size: 4},
		{name: "not GGUF", path: write("text.gguf", raw([]byte("this is not a model\n"))), problem: models.NotGGUF, size: 20},
		{name: "empty", path: write("zero.gguf", raw(nil)), problem: models.NotGGUF},
		{name: "short of the magic", path: write("gg.gguf", raw([]byte("GG"))), problem: models.NotGGUF, size: 2},
		{name: "version 1", path: write("v1.gguf", v1.Write), problem: models.Damaged, size: v1.Size(), detail: "version 1"},
		{name: "newer version", path: write("v9.gguf", v9.Write), size: v9.Size(), detail: "GGUF version 9"},
		{name: "big-endian", path: write("be.gguf", raw(bigEndian)), size: 8, detail: "big-endian"},
		{name: "unknown tensor type", path: write("odd.gguf", unknownType.Write), size: unknownType.Size(), detail: "tensor type"},
		{name: "being written", path: write("fresh.gguf", func(p string) error { return os.WriteFile(p, tiny.Header(), 0o644) }),
			problem: models.Writing, size: int64(len(tiny.Header()))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := models.JudgeFile(tc.path, now)
			if v.Problem != tc.problem || v.Size != tc.size || v.Want != tc.want || !strings.Contains(v.Detail, tc.detail) || (tc.detail == "" && v.Detail != "") {
				t.Fatalf("JudgeFile = %+v\nwant problem %d, size %d, want %d, detail ~%q", v, tc.problem, tc.size, tc.want, tc.detail)
			}
			if tc.problem == models.Writing && (v.Settle <= 0 || v.Settle > models.SettleTime) {
				t.Fatalf("Settle = %v", v.Settle)
			}
		})
	}

	t.Run("settles", func(t *testing.T) {
		p := filepath.Join(dir, "fresh.gguf")
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if v := models.JudgeFile(p, fi.ModTime().Add(models.SettleTime-time.Millisecond)); v.Problem != models.Writing {
			t.Fatalf("just inside the window: %+v, want being written", v)
		}
		if v := models.JudgeFile(p, fi.ModTime().Add(models.SettleTime)); v.Problem != models.Incomplete {
			t.Fatalf("2 s later: %+v, want incomplete", v)
		}
	})
	t.Run("future mtime", func(t *testing.T) {
		p := filepath.Join(dir, "tiny.gguf")
		if v := models.JudgeFile(p, now.Add(-time.Hour-time.Minute)); v.Problem != models.Sound {
			t.Fatalf("a file dated well ahead of the clock: %+v, want judged at once", v)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if v := models.JudgeFile(filepath.Join(dir, "nope.gguf"), now); v.Problem != models.Unreadable || !strings.Contains(v.Detail, "no such file") {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("directory", func(t *testing.T) {
		if v := models.JudgeFile(dir, now); v.Problem != models.NotRegular || !v.Mode.IsDir() {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("named pipe", func(t *testing.T) {
		p := filepath.Join(dir, "fifo.gguf")
		testenv.Mkfifo(t, p)
		done := make(chan models.Verdict, 1)
		go func() { done <- models.JudgeFile(p, now) }()
		select {
		case v := <-done:
			if v.Problem != models.NotRegular {
				t.Fatalf("%+v", v)
			}
		case <-time.After(testenv.WaitLimit):
			// Unblock the open so the goroutine ends, then fail.
			if w, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
				w.Close()
			}
			t.Fatal("JudgeFile blocked on a named pipe")
		}
	})
}

func TestHeaderFacts(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		file   gguftest.File
		params uint64
		quant  string
		arch   string
	}{
		{name: "tiny", file: gguftest.Tiny(), params: 288, quant: "Q8_0", arch: "llama"},
		{name: "q4km", file: gguftest.Model("m", gguftest.FileTypeQ4_KM,
			gguftest.Tensor{Type: gguftest.Q4_K, Dims: []uint64{4096, 1000}},
			gguftest.Tensor{Type: gguftest.Q6_K, Dims: []uint64{4096, 10}}), params: 4_136_960, quant: "Q4_K_M", arch: "llama"},
		{name: "no file type: the main tensor type", file: gguftest.File{
			KV:      []gguftest.KV{{Key: "general.architecture", Value: "qwen2"}},
			Tensors: []gguftest.Tensor{{Name: "a", Type: gguftest.Q4_0, Dims: []uint64{64, 64}}, {Name: "b", Type: gguftest.F32, Dims: []uint64{64}}},
		}, params: 4160, quant: "Q4_0", arch: "qwen2"},
		{name: "guessed file type", file: gguftest.Model("g", 1024+15, gguftest.Tensor{Type: gguftest.F32, Dims: []uint64{8}}), params: 8, quant: "Q4_K_M", arch: "llama"},
		{name: "vocabulary skipped", file: gguftest.File{KV: []gguftest.KV{
			{Key: "tokenizer.ggml.tokens", Value: []string{"a", "bb", "ccc"}},
			{Key: "tokenizer.ggml.scores", Value: []float32{1, 2, 3}},
			{Key: "tokenizer.ggml.token_type", Value: []int32{1, 1, 1}},
			{Key: "general.architecture", Value: "gemma"},
			{Key: "general.file_type", Value: uint32(32)},
		}}, quant: "BF16", arch: "gemma"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".gguf")
			if err := tc.file.Write(p); err != nil {
				t.Fatal(err)
			}
			v := models.JudgeFile(p, time.Now())
			if v.Problem != models.Sound || !v.HasHeader {
				t.Fatalf("%+v", v)
			}
			h := v.Header
			if h.Params != tc.params || h.Quant() != tc.quant || h.Architecture != tc.arch {
				t.Fatalf("params %d quant %q arch %q, want %d %q %q", h.Params, h.Quant(), h.Architecture, tc.params, tc.quant, tc.arch)
			}
		})
	}
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 bytes"}, {999, "999 bytes"}, {1000, "1.0 kB"}, {1_234_567, "1.2 MB"}, {4_700_000_000, "4.7 GB"}, {2e12, "2.0 TB"}} {
		if got := models.Bytes(tc.n); got != tc.want {
			t.Errorf("Bytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		part, whole int64
		want        string
	}{
		{1_200_000_000, 4_700_000_000, "1.2 of 4.7 GB"},
		{4_699_999_000, 4_700_000_000, "4699999000 of 4700000000 bytes"},
		{4_690_000_000, 4_700_000_000, "4.69 of 4.70 GB"},
		{300_000, 4_700_000_000, "0.0 of 4.7 GB"},
		{10, 900, "10 of 900 bytes"},
	} {
		if got := models.BytesOf(tc.part, tc.whole); got != tc.want {
			t.Errorf("BytesOf(%d, %d) = %q, want %q", tc.part, tc.whole, got, tc.want)
		}
	}
}
