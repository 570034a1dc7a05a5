package settings

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
)

// fakeFS is a file system of paths and modes, and a PATH of names.
type fakeFS struct {
	files map[string]fs.FileMode // absolute path -> mode (fs.ModeDir for a directory)
	path  map[string]string      // bare name -> where LookPath finds it
	errs  map[string]error       // Stat errors other than not-exist
}

type fakeInfo struct {
	name string
	mode fs.FileMode
}

func (i fakeInfo) Name() string       { return i.name }
func (i fakeInfo) Size() int64        { return 0 }
func (i fakeInfo) Mode() fs.FileMode  { return i.mode }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fakeInfo) Sys() any           { return nil }

func (f fakeFS) Stat(name string) (fs.FileInfo, error) {
	if err, ok := f.errs[name]; ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	m, ok := f.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return fakeInfo{filepath.Base(name), m}, nil
}

func (f fakeFS) LookPath(file string) (string, error) {
	if p, ok := f.path[file]; ok {
		return p, nil
	}
	return "", errors.New("executable file not found in $PATH")
}

// TestGate is the seed's six-case matrix plus the ways a binary can be
// wrong, on a fake file system.
func TestGate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("fake paths are Unix paths")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	const models = "/data/models"
	fsys := fakeFS{
		files: map[string]fs.FileMode{
			"/usr/local/bin/llama-server":     0o755,
			"/opt/noexec/llama-server":        0o644,
			"/opt/llama":                      fs.ModeDir | 0o755,
			"/opt/fifo":                       fs.ModeNamedPipe | 0o755,
			home + "/bin/llama-server":        0o700,
			"/data/models/m.gguf":             0o644,
			"/data/models/dir.gguf":           fs.ModeDir | 0o755,
			"/srv/other/m.gguf":               0o644,
			home + "/models/m.gguf":           0o644,
			"/usr/bin/llama-server-from-path": 0o755,
		},
		path: map[string]string{"llama-server": "/usr/bin/llama-server-from-path"},
		errs: map[string]error{"/locked/llama-server": fs.ErrPermission},
	}
	base := Settings{
		Backend:           BackendLlamaCpp,
		ModelID:           "m",
		LlamaServerBinary: "/usr/local/bin/llama-server",
		File:              home + "/.config/ocm/settings.toml",
	}
	for _, tc := range []struct {
		name   string
		change func(*Settings)
		spawn  bool
		reason string // exact reason when refused
		binary string
		model  string
	}{
		// The seed's matrix.
		{name: "spawn", change: func(*Settings) {}, spawn: true, binary: "/usr/local/bin/llama-server", model: "/data/models/m.gguf"},
		{name: "ollama", change: func(s *Settings) { s.Backend = BackendOllama },
			reason: `backend is "ollama": Ollama runs its own service, ocm-tray does not spawn it`},
		{name: "auto", change: func(s *Settings) { s.Backend = BackendAuto },
			reason: `backend is "auto": ocm-tray runs llama-server only when backend = "llamacpp" in ~/.config/ocm/settings.toml`},
		{name: "binary unset", change: func(s *Settings) { s.LlamaServerBinary = "" },
			reason: "llama_server_binary is not set in ~/.config/ocm/settings.toml: set it to the path of llama-server"},
		{name: "model file missing", change: func(s *Settings) { s.ModelID = "x" },
			reason: "model file /data/models/x.gguf not found"},
		{name: "model_id unset", change: func(s *Settings) { s.ModelID = "" },
			reason: "model_id is not set in ~/.config/ocm/settings.toml: set it to the name of a .gguf file in /data/models, without .gguf"},

		// The binary.
		{name: "binary missing", change: func(s *Settings) { s.LlamaServerBinary = "/opt/nothing/llama-server" },
			reason: "llama_server_binary /opt/nothing/llama-server not found: install llama.cpp there or correct the path in ~/.config/ocm/settings.toml"},
		{name: "binary not executable", change: func(s *Settings) { s.LlamaServerBinary = "/opt/noexec/llama-server" },
			reason: "llama_server_binary /opt/noexec/llama-server is not executable: run chmod +x /opt/noexec/llama-server"},
		{name: "binary is a directory", change: func(s *Settings) { s.LlamaServerBinary = "/opt/llama/" },
			reason: "llama_server_binary /opt/llama is a directory: set it to the llama-server program inside it in ~/.config/ocm/settings.toml"},
		{name: "binary not regular", change: func(s *Settings) { s.LlamaServerBinary = "/opt/fifo" },
			reason: "llama_server_binary /opt/fifo is a named pipe (FIFO), not a program in ~/.config/ocm/settings.toml"},
		{name: "binary unreadable dir", change: func(s *Settings) { s.LlamaServerBinary = "/locked/llama-server" },
			reason: "llama_server_binary /locked/llama-server cannot be checked: permission denied"},
		{name: "bare name not on PATH", change: func(s *Settings) { s.LlamaServerBinary = "llama-cli" },
			reason: `llama_server_binary "llama-cli" was not found on PATH: install llama.cpp, or set llama_server_binary to the full path of llama-server in ~/.config/ocm/settings.toml`},
		{name: "bare name on PATH", change: func(s *Settings) { s.LlamaServerBinary = "llama-server" },
			spawn: true, binary: "/usr/bin/llama-server-from-path", model: "/data/models/m.gguf"},
		{name: "tilde expanded", change: func(s *Settings) { s.LlamaServerBinary = "~/bin/llama-server" },
			spawn: true, binary: home + "/bin/llama-server", model: "/data/models/m.gguf"},
		{name: "tilde missing shown short", change: func(s *Settings) { s.LlamaServerBinary = "~/bin/nope" },
			reason: "llama_server_binary ~/bin/nope not found: install llama.cpp there or correct the path in ~/.config/ocm/settings.toml"},
		{name: "relative binary", change: func(s *Settings) { s.LlamaServerBinary = "./bin/llama" },
			reason: `llama_server_binary "./bin/llama" is a relative path: use an absolute path, one starting with ~/, or a bare name found on PATH in ~/.config/ocm/settings.toml`},
		{name: "control char binary", change: func(s *Settings) { s.LlamaServerBinary = "/usr/local/bin/llama-server\x00" },
			reason: `llama_server_binary "/usr/local/bin/llama-server\x00" contains a control character in ~/.config/ocm/settings.toml`},

		// The model.
		{name: "model path is a directory", change: func(s *Settings) { s.ModelID = "dir" },
			reason: "model file /data/models/dir.gguf is a directory, not a .gguf file"},
		{name: "model_id with a right-to-left override", change: func(s *Settings) { s.ModelID = "m\u202e" },
			reason: `model_id "m\u202e" contains U+202E, an invisible character that changes how the name is shown in ~/.config/ocm/settings.toml`},
		{name: "model_id traversal", change: func(s *Settings) { s.ModelID = "../../etc/passwd" },
			reason: `model_id "../../etc/passwd" is a path, not a plain file name in ~/.config/ocm/settings.toml`},
		{name: "models_dir overrides", change: func(s *Settings) { s.ModelsDir = "/srv/other" },
			spawn: true, binary: "/usr/local/bin/llama-server", model: "/srv/other/m.gguf"},
		{name: "models_dir tilde", change: func(s *Settings) { s.ModelsDir = "~/models" },
			spawn: true, binary: "/usr/local/bin/llama-server", model: home + "/models/m.gguf"},
		{name: "models_dir tilde missing model shown short", change: func(s *Settings) { s.ModelsDir = "~/models"; s.ModelID = "y" },
			reason: "model file ~/models/y.gguf not found"},
		{name: "models_dir relative", change: func(s *Settings) { s.ModelsDir = "models" },
			reason: `models_dir "models" is not an absolute path in ~/.config/ocm/settings.toml`},

		// Settings not from a file, and an invalid backend.
		{name: "no file", change: func(s *Settings) { s.File = ""; s.LlamaServerBinary = "" },
			reason: "llama_server_binary is not set: set it to the path of llama-server"},
		{name: "invalid backend", change: func(s *Settings) { s.Backend = "vllm" },
			reason: `backend "vllm" is not one of "auto", "ollama", "llamacpp" in ~/.config/ocm/settings.toml`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.change(&s)
			d := Gate(s, models, fsys)
			want := Decision{Spawn: tc.spawn, Reason: tc.reason, Binary: tc.binary, ModelPath: tc.model}
			if d != want {
				t.Fatalf("Gate =\n  %+v\nwant\n  %+v", d, want)
			}
		})
	}
}

// TestGateOS runs the gate on real files: permissions, directories and a
// real $PATH.
func TestGateOS(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("executable bits")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	bin := filepath.Join(home, "bin")
	models := filepath.Join(home, "models")
	for _, d := range []string{bin, models, filepath.Join(models, "d.gguf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(bin, "llama-server"), 0o755)
	write(filepath.Join(bin, "noexec"), 0o644)
	if err := gguftest.Tiny().Write(filepath.Join(models, "m.gguf")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)

	for _, tc := range []struct {
		name, binary, model string
		spawn               bool
		reason              string
	}{
		{name: "absolute", binary: filepath.Join(bin, "llama-server"), model: "m", spawn: true},
		{name: "bare on PATH", binary: "llama-server", model: "m", spawn: true},
		{name: "tilde", binary: "~/bin/llama-server", model: "m", spawn: true},
		{name: "bare not on PATH", binary: "llama-server-nope", model: "m", reason: `"llama-server-nope" was not found on PATH`},
		{name: "bare not executable on PATH", binary: "noexec", model: "m", reason: `"noexec" was not found on PATH`},
		{name: "not executable", binary: "~/bin/noexec", model: "m", reason: "~/bin/noexec is not executable: run chmod +x " + filepath.Join(bin, "noexec")},
		{name: "directory", binary: "~/bin", model: "m", reason: "~/bin is a directory"},
		{name: "spaces missing", binary: filepath.Join(home, "my llama", "llama-server"), model: "m", reason: "~/my llama/llama-server not found"},
		{name: "model missing", binary: "llama-server", model: "x", reason: "model file ~/models/x.gguf not found"},
		{name: "model is a directory", binary: "llama-server", model: "d", reason: "model file ~/models/d.gguf is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Settings{Backend: BackendLlamaCpp, ModelID: tc.model, LlamaServerBinary: tc.binary}
			d := Gate(s, models, OSFS{})
			if d.Spawn != tc.spawn || !strings.Contains(d.Reason, tc.reason) || (tc.spawn && d.Reason != "") {
				t.Fatalf("Gate = %+v, want spawn=%v reason ~%q", d, tc.spawn, tc.reason)
			}
			if d.Spawn && (d.Binary != filepath.Join(bin, "llama-server") || d.ModelPath != filepath.Join(models, "m.gguf")) {
				t.Fatalf("Gate = %+v", d)
			}
		})
	}
}

func TestTildePath(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	for in, want := range map[string]string{
		"/home/u":           "~",
		"/home/u/x/y.gguf":  "~/x/y.gguf",
		"/home/user/x":      "/home/user/x",
		"/opt/x":            "/opt/x",
		"relative/home/u/x": "relative/home/u/x",
	} {
		if got := tildePath(in); got != want {
			t.Errorf("tildePath(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"~":       "/home/u",
		"~/bin/x": "/home/u/bin/x",
		"~bob/x":  "~bob/x",
		"/abs":    "/abs",
		"rel/~/x": "rel/~/x",
	} {
		if got := expandHome(in); got != want {
			t.Errorf("expandHome(%q) = %q, want %q", in, got, want)
		}
	}
	t.Setenv("HOME", "/")
	if got := tildePath("/x"); got != "/x" {
		t.Errorf("with HOME=/: tildePath = %q", got)
	}
}
