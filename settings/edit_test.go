package settings

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// TestSetModelIDLayouts edits settings files of every layout people write
// and checks the result byte for byte: only model_id changes.
func TestSetModelIDLayouts(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"replace",
			"backend = \"llamacpp\"\nmodel_id = \"old\"\nctx_len = 2048\n",
			"backend = \"llamacpp\"\nmodel_id = \"new-model\"\nctx_len = 2048\n"},
		{"inline comment and spacing kept",
			"model_id   =   'old'    # the small one\n[supervisor]\nmax_restarts = 1\n",
			"model_id   =   \"new-model\"    # the small one\n[supervisor]\nmax_restarts = 1\n"},
		{"CRLF",
			"# settings\r\nbackend = \"llamacpp\"\r\nmodel_id = \"old\"\r\n\r\n[supervisor]\r\nmax_restarts = 2\r\n",
			"# settings\r\nbackend = \"llamacpp\"\r\nmodel_id = \"new-model\"\r\n\r\n[supervisor]\r\nmax_restarts = 2\r\n"},
		{"no final newline",
			"backend = \"llamacpp\"\nmodel_id = \"old\"",
			"backend = \"llamacpp\"\nmodel_id = \"new-model\""},
		{"missing: after the last top-level key",
			"# mine\nbackend = \"llamacpp\" # yes\nllama_server_args = [\n  \"--threads\", \"4\",\n]\n\n# the policy\n[supervisor]\nmax_restarts = 1\n",
			"# mine\nbackend = \"llamacpp\" # yes\nllama_server_args = [\n  \"--threads\", \"4\",\n]\nmodel_id = \"new-model\"\n\n# the policy\n[supervisor]\nmax_restarts = 1\n"},
		{"missing, no final newline",
			"backend = \"llamacpp\"",
			"backend = \"llamacpp\"\nmodel_id = \"new-model\"\n"},
		{"missing, CRLF",
			"backend = \"llamacpp\"\r\n[notifications]\r\nlevel = \"off\"\r\n",
			"backend = \"llamacpp\"\r\nmodel_id = \"new-model\"\r\n[notifications]\r\nlevel = \"off\"\r\n"},
		{"missing: after the commented-out line",
			"# backend = \"auto\"\n\n# The model.\n# model_id = \"qwen\"\n\n# ctx_len = 4096\n\n[supervisor]\n",
			"# backend = \"auto\"\n\n# The model.\n# model_id = \"qwen\"\nmodel_id = \"new-model\"\n\n# ctx_len = 4096\n\n[supervisor]\n"},
		{"missing, only tables: at the top",
			"[supervisor]\nmax_restarts = 1\n",
			"model_id = \"new-model\"\n[supervisor]\nmax_restarts = 1\n"},
		{"empty file",
			"",
			"model_id = \"new-model\"\n"},
		{"model_id in a table is not the key",
			"backend = \"llamacpp\"\n[other]\nmodel_id = \"x\"\n",
			"backend = \"llamacpp\"\nmodel_id = \"new-model\"\n[other]\nmodel_id = \"x\"\n"},
		{"quoted key",
			"\"model_id\" = \"old\"\n",
			"\"model_id\" = \"new-model\"\n"},
		{"byte-order mark",
			"\ufeffmodel_id = \"old\"\n",
			"\ufeffmodel_id = \"new-model\"\n"},
		{"same value: untouched",
			"model_id = \"new-model\" # same\n",
			"model_id = \"new-model\" # same\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "settings.toml")
			if err := os.WriteFile(p, []byte(tc.in), 0o640); err != nil {
				t.Fatal(err)
			}
			snap, err := TakeSnapshot(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := SetModelID(p, "new-model", snap); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			if string(got) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
			if s, problems := Parse(p, got); HasErrors(problems) || s.ModelID != "new-model" {
				t.Fatalf("the result does not parse to model_id new-model: %v %q", problems, s.ModelID)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
				t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*tmp")); len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}

func TestSetModelIDQuoting(t *testing.T) {
	p := filepath.Join(t.TempDir(), "settings.toml")
	os.WriteFile(p, []byte("model_id = \"a\"\n"), 0o600)
	snap, _ := TakeSnapshot(p)
	if err := SetModelID(p, `odd "name" here`, snap); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if s, problems := Parse(p, got); HasErrors(problems) || s.ModelID != `odd "name" here` {
		t.Fatalf("%q parses to %q %v", got, s.ModelID, problems)
	}
}

func TestSetModelIDRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unchanged := func(p, body string) {
		t.Helper()
		if got, _ := os.ReadFile(p); string(got) != body {
			t.Fatalf("the file was changed to %q", got)
		}
	}

	t.Run("changed since read", func(t *testing.T) {
		p := write("changed.toml", "model_id = \"a\"\n")
		snap, _ := TakeSnapshot(p)
		const edited = "model_id = \"a\"\nctx_len = 1024\n"
		os.WriteFile(p, []byte(edited), 0o600)
		err := SetModelID(p, "b", snap)
		if !errors.Is(err, ErrChanged) {
			t.Fatalf("err = %v", err)
		}
		unchanged(p, edited)
	})
	t.Run("invalid", func(t *testing.T) {
		const body = "model_id = \"a\"\n[supervisor]\nmax_restarts = 1000\n"
		p := write("invalid.toml", body)
		snap, _ := TakeSnapshot(p)
		err := SetModelID(p, "b", snap)
		if err == nil || !strings.Contains(err.Error(), "has errors") || !strings.Contains(err.Error(), "max_restarts") {
			t.Fatalf("err = %v", err)
		}
		unchanged(p, body)
	})
	t.Run("syntax error", func(t *testing.T) {
		const body = "model_id = \"a\nbackend = llamacpp\n"
		p := write("syntax.toml", body)
		snap, _ := TakeSnapshot(p)
		if err := SetModelID(p, "b", snap); err == nil || !strings.Contains(err.Error(), "has errors") {
			t.Fatalf("err = %v", err)
		}
		unchanged(p, body)
	})
	t.Run("no file", func(t *testing.T) {
		p := filepath.Join(dir, "none.toml")
		if err := SetModelID(p, "b", Snapshot{}); err == nil || !strings.Contains(err.Error(), "ocm-tray init") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("a file was created")
		}
	})
	t.Run("a path as the model", func(t *testing.T) {
		p := write("path.toml", "model_id = \"a\"\n")
		snap, _ := TakeSnapshot(p)
		if err := SetModelID(p, "../x", snap); err == nil || !strings.Contains(err.Error(), "not a plain file name") {
			t.Fatalf("err = %v", err)
		}
		unchanged(p, "model_id = \"a\"\n")
	})
	t.Run("a look-alike line inside a multi-line string", func(t *testing.T) {
		// No model_id key; a commented-out model_id line inside a string
		// must not become the place of the edit.
		const body = "llama_server_args = [\"\"\"--x\n# model_id = \"q\"\n\"\"\"]\n"
		p := write("lookalike.toml", body)
		snap, _ := TakeSnapshot(p)
		if err := SetModelID(p, "b", snap); err == nil || !strings.Contains(err.Error(), "by hand") {
			t.Fatalf("err = %v", err)
		}
		unchanged(p, body)
	})
	t.Run("named pipe", func(t *testing.T) {
		p := filepath.Join(dir, "fifo.toml")
		testenv.Mkfifo(t, p)
		if err := SetModelID(p, "b", Snapshot{Exists: true}); err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestSetModelIDSymlink: the link's target is edited, the link stays a
// link, and the temporary file is made beside the target (a rename across
// folders could cross file systems).
func TestSetModelIDSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges")
	}
	dotfiles := t.TempDir()
	config := t.TempDir()
	target := filepath.Join(dotfiles, "ocm.toml")
	os.WriteFile(target, []byte("# mine\nmodel_id = \"a\"\n"), 0o600)
	link := filepath.Join(config, "settings.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	snap, _ := TakeSnapshot(link)
	if err := SetModelID(link, "b", snap); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(target); string(got) != "# mine\nmodel_id = \"b\"\n" {
		t.Fatalf("target = %q", got)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
}
