package settings

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
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
