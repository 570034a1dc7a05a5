package models_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
	"github.com/OpenCircuitDev/ocm-tray/models"
)

func TestList(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	qwen := gguftest.Model("qwen", gguftest.FileTypeQ4_KM,
		gguftest.Tensor{Type: gguftest.Q8_0, Dims: []uint64{896, 151936}}, // 136M
		gguftest.Tensor{Type: gguftest.Q4_K, Dims: []uint64{4864, 73216}}, // 356M
		gguftest.Tensor{Type: gguftest.F32, Dims: []uint64{896}})
	must(qwen.Write(p("qwen2.5-0.5b-instruct-q4_k_m.gguf")))
	part := gguftest.Model("big", gguftest.FileTypeQ8_0, gguftest.Tensor{Type: gguftest.Q8_0, Dims: []uint64{4096, 1000}})
	for i := 1; i <= 3; i++ {
		must(part.Write(p(models.Split{Base: "big", Count: 3}.PartID(i) + ".gguf")))
	}
	must(part.Write(p("gap-00001-of-00002.gguf")))
	must(part.Write(p("mmproj-qwen-f16.gguf")))
	must(os.Mkdir(p("folder.gguf"), 0o755))
	must(os.WriteFile(p("README.md"), []byte("hi"), 0o644))
	must(os.WriteFile(p("page.gguf"), []byte("<html>"), 0o644))
	must(gguftest.Settle(p("page.gguf")))
	must(os.WriteFile(p("fresh.gguf"), qwen.Header()[:100], 0o644))

	got, err := models.List(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []models.Model{
		{ID: "big-00001-of-00003", Parts: 3, Size: 3 * part.Size(), Params: 3 * 4_096_000, Quant: "Q8_0", Architecture: "llama"},
		{ID: "fresh", Parts: 1, Size: 100, Problem: "is still being written (100 bytes so far)"},
		{ID: "gap-00001-of-00002", Parts: 2, Size: part.Size(), Params: 4_096_000, Quant: "Q8_0", Architecture: "llama", Problem: "part 2 of 2 is missing"},
		{ID: "page", Parts: 1, Size: 6, Problem: "is not a GGUF file"},
		{ID: "qwen2.5-0.5b-instruct-q4_k_m", Parts: 1, Size: qwen.Size(), Params: 136_134_656 + 356_122_624 + 896, Quant: "Q4_K_M", Architecture: "llama"},
	}
	if len(got) != len(want) {
		t.Fatalf("List = %+v\nwant %d models", got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		w.Path = p(w.ID + ".gguf")
		if g.Settle > 0 != (w.ID == "fresh") {
			t.Errorf("%s: Settle %v", g.ID, g.Settle)
		}
		g.Settle = 0
		if g != w {
			t.Errorf("model %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if models.Params(got[4].Params) != "492M" {
		t.Errorf("Params = %q", models.Params(got[4].Params))
	}

	if got, err := models.List(filepath.Join(dir, "nowhere"), time.Now()); err != nil || len(got) != 0 {
		t.Fatalf("missing folder: %v, %v", got, err)
	}
}

func TestParams(t *testing.T) {
	for n, want := range map[uint64]string{0: "", 999: "999", 1500: "1.5K", 494_032_768: "494M", 7_615_616_512: "7.6B", 70_553_706_496: "71B", 1_000_000_000: "1B", 1_200_000_000_000: "1.2T"} {
		if got := models.Params(n); got != want {
			t.Errorf("Params(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseSplit(t *testing.T) {
	for id, want := range map[string]models.Split{
		"Qwen3-235B-Q4_K_M-00001-of-00003": {Base: "Qwen3-235B-Q4_K_M", No: 1, Count: 3},
		"a-b-00002-of-00002":               {Base: "a-b", No: 2, Count: 2},
	} {
		if got, ok := models.ParseSplit(id); !ok || got != want {
			t.Errorf("ParseSplit(%q) = %+v, %v", id, got, ok)
		}
	}
	for _, id := range []string{"plain", "x-1-of-3", "x-00004-of-00003", "x-00000-of-00003", "-00001-of-00002", "x-0001a-of-00002", "x-000001-of-000002"} {
		if got, ok := models.ParseSplit(id); ok {
			t.Errorf("ParseSplit(%q) = %+v, want not a split name", id, got)
		}
	}
	if got := models.Parts("/m/x-00001-of-00002.gguf"); len(got) != 2 || got[1] != "/m/x-00002-of-00002.gguf" {
		t.Errorf("Parts = %q", got)
	}
	if got := models.Parts("/m/x.gguf"); len(got) != 1 || got[0] != "/m/x.gguf" {
		t.Errorf("Parts = %q", got)
	}
}
