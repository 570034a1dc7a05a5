package settings

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

func TestCreateTemplate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config", "ocm", "settings.toml")

	created, err := CreateTemplate(path)
	if err != nil || !created {
		t.Fatalf("CreateTemplate = %v, %v", created, err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, Template()) {
		t.Fatalf("template content differs: %v", err)
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
		}
		di, _ := os.Stat(filepath.Dir(path))
		if di.Mode().Perm() != 0o700 {
			t.Errorf("dir mode %v, want 0700", di.Mode().Perm())
		}
	}
	// The template it wrote loads as the defaults.
	if s, probs := Load(path, true); len(probs) != 0 || s.Backend != BackendAuto {
		t.Fatalf("Load(template) = %+v, %v", s, probs)
	}

	// Never overwrites: not its own template, not the user's file.
	mine := []byte("backend = \"ollama\"\n")
	if err := os.WriteFile(path, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	created, err = CreateTemplate(path)
	if err != nil || created {
		t.Fatalf("second CreateTemplate = %v, %v", created, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, mine) {
		t.Fatal("existing settings file was overwritten")
	}

	// A dangling symlink is a name that exists: O_EXCL does not follow it.
	link := filepath.Join(dir, "link.toml")
	if err := os.Symlink(filepath.Join(dir, "elsewhere.toml"), link); err != nil {
		t.Fatal(err)
	}
	if created, err := CreateTemplate(link); err != nil || created {
		t.Fatalf("CreateTemplate(dangling symlink) = %v, %v", created, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "elsewhere.toml")); !os.IsNotExist(err) {
		t.Fatal("wrote through a symlink")
	}

	// A parent that is a file: an error, nothing created.
	if created, err := CreateTemplate(filepath.Join(path, "x.toml")); err == nil || created {
		t.Fatalf("CreateTemplate under a file = %v, %v", created, err)
	}
}

func TestFilledTemplate(t *testing.T) {
	f := Filled{Backend: "llamacpp", LlamaServerBinary: `/opt/llama "cpp"\bin/llama-server`, ModelID: "qwen2.5-0.5b-ünïcode"}
	got := FilledTemplate(f)
	path := filepath.Join(t.TempDir(), "settings.toml")
	if err := os.WriteFile(path, got, 0o600); err != nil {
		t.Fatal(err)
	}
	s, probs := Load(path, true)
	if len(probs) != 0 {
		t.Fatalf("the filled template has problems: %v\n%s", probs, got)
	}
	if s.Backend != BackendLlamaCpp || s.LlamaServerBinary != f.LlamaServerBinary || s.ModelID != f.ModelID {
		t.Fatalf("loaded %q %q %q, want %+v", s.Backend, s.LlamaServerBinary, s.ModelID, f)
	}
	// Only the three example lines changed: every comment is still there.
	want, gotLines := strings.Split(string(Template()), "\n"), strings.Split(string(got), "\n")
	if len(want) != len(gotLines) {
		t.Fatalf("%d lines, want %d", len(gotLines), len(want))
	}
	changed := 0
	for i := range want {
		if want[i] != gotLines[i] {
			changed++
			if !strings.HasPrefix(want[i], "# ") || !strings.HasPrefix(want[i][2:], strings.SplitN(gotLines[i], " ", 2)[0]+" = ") {
				t.Errorf("line %d: %q became %q", i+1, want[i], gotLines[i])
			}
		}
	}
	if changed != 3 {
		t.Errorf("%d lines changed, want 3", changed)
	}
	// Nothing filled in: the template itself.
	if !bytes.Equal(FilledTemplate(Filled{}), Template()) {
		t.Error("FilledTemplate(Filled{}) differs from Template()")
	}
	// Each key alone lands at top level, where Load reads it.
	for _, tc := range []struct {
		f          Filled
		backend    Backend
		model, bin string
	}{
		{Filled{Backend: "ollama"}, BackendOllama, "", ""},
		{Filled{ModelID: "m"}, BackendAuto, "m", ""},
		{Filled{LlamaServerBinary: "/x"}, BackendAuto, "", "/x"},
	} {
		if err := os.WriteFile(path, FilledTemplate(tc.f), 0o600); err != nil {
			t.Fatal(err)
		}
		s, probs := Load(path, true)
		if len(probs) != 0 || s.Backend != tc.backend || s.ModelID != tc.model || s.LlamaServerBinary != tc.bin {
			t.Errorf("%+v loads as %q %q %q, %v", tc.f, s.Backend, s.ModelID, s.LlamaServerBinary, probs)
		}
	}
}

func TestCreateFilledTemplate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ocm", "settings.toml")
	f := Filled{Backend: "llamacpp", ModelID: "tiny"}
	if created, err := CreateFilledTemplate(path, f); err != nil || !created {
		t.Fatalf("CreateFilledTemplate = %v, %v", created, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, FilledTemplate(f)) {
		t.Fatal("file differs from FilledTemplate")
	}
	// Never overwrites, not even with other values.
	if created, err := CreateFilledTemplate(path, Filled{ModelID: "other"}); err != nil || created {
		t.Fatalf("second CreateFilledTemplate = %v, %v", created, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, FilledTemplate(f)) {
		t.Fatal("existing file was overwritten")
	}
}

func TestTOMLString(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b`, `c:\dir\`, "tab\there", "nl\nx", "del\x7f", "bell\a", "ünï €", `'single'`} {
		var v struct{ K string }
		if err := toml.Unmarshal([]byte("K = "+tomlString(s)+"\n"), &v); err != nil || v.K != s {
			t.Errorf("tomlString(%q) = %s reads back as %q, %v", s, tomlString(s), v.K, err)
		}
	}
}
