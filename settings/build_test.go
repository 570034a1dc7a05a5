package settings

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

func TestBuildConfig(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("executable bits")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	bin := filepath.Join(home, "llama-server")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	models := filepath.Join(home, "models")
	if err := os.Mkdir(models, 0o755); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(models, "m.gguf")
	if err := gguftest.Tiny().Write(model); err != nil {
		t.Fatal(err)
	}
	paths := Paths{ConfigFile: filepath.Join(home, "settings.toml"), ModelsDir: models, StateDir: filepath.Join(home, "state")}

	s := Defaults()
	s.Backend = BackendLlamaCpp
	s.ModelID = "m"
	s.LlamaServerBinary = "~/llama-server"
	s.InferenceBaseURL = "http://0.0.0.0:9000/v1"
	s.CtxLen = 0
	s.LlamaServerArgs = []string{"--threads", "4"}
	s.Supervisor.MaxRestarts = 7
	s.Supervisor.StartupTimeout = Duration(time.Hour)

	cfg := BuildConfig(s, paths)
	wantPolicy := supervisor.DefaultPolicy()
	wantPolicy.MaxRestarts = 7
	wantPolicy.StartupTimeout = time.Hour
	want := supervisor.Config{
		Command: &supervisor.Command{Path: bin, Args: []string{
			"-m", model, "--host", "0.0.0.0", "--port", "9000", "-c", "0", "--threads", "4"}},
		Port:      9000,
		ProbeHost: "127.0.0.1",
		Policy:    wantPolicy,
		LogPath:   filepath.Join(home, "state", "llama-server.log"),
		Model:     "m",
		Warning:   "host 0.0.0.0 is not loopback: llama-server is reachable from the network",
		LiveView:  true,
	}
	if cfg.Recheck == nil {
		t.Fatal("Recheck is nil")
	}
	if r := cfg.Recheck(); r != "" {
		t.Fatalf("Recheck() = %q with the model present", r)
	}
	got := cfg
	got.Recheck = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("BuildConfig =\n  %+v %+v\nwant\n  %+v %+v", got, got.Command, want, want.Command)
	}

	// The model goes away: Recheck refuses, naming it.
	if err := os.Remove(model); err != nil {
		t.Fatal(err)
	}
	if r := cfg.Recheck(); r != "model file ~/models/m.gguf not found" {
		t.Fatalf("Recheck() = %q", r)
	}

	// Now the gate refuses from the start: no Command, a Refusal.
	cfg = BuildConfig(s, paths)
	if cfg.Command != nil || cfg.Refusal != "model file ~/models/m.gguf not found" || cfg.Port != 9000 {
		t.Fatalf("refused config = %+v", cfg)
	}

	// The file named in reasons: Settings.File, else the paths' ConfigFile.
	s.LlamaServerBinary = ""
	if cfg = BuildConfig(s, paths); cfg.Refusal != "llama_server_binary is not set in ~/settings.toml: set it to the path of llama-server" {
		t.Fatalf("Refusal = %q", cfg.Refusal)
	}
	s.File = "/etc/other.toml"
	if cfg = BuildConfig(s, paths); cfg.Refusal != "llama_server_binary is not set in /etc/other.toml: set it to the path of llama-server" {
		t.Fatalf("Refusal = %q", cfg.Refusal)
	}

	// Defaults: nothing to spawn, loopback, no warning.
	cfg = BuildConfig(Defaults(), Paths{ModelsDir: models})
	if cfg.Command != nil || cfg.Refusal == "" || cfg.Warning != "" || cfg.ProbeHost != "127.0.0.1" ||
		cfg.Port != 8080 || cfg.LogPath != "" || cfg.Policy != supervisor.DefaultPolicy() {
		t.Fatalf("default config = %+v", cfg)
	}
}

// Settings built by hand with a bad URL: the gate's decide refuses rather
// than hand the supervisor a port of 0.
func TestBuildConfigBadEndpoint(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("executable bits")
	}
	fsys := fakeFS{files: map[string]os.FileMode{"/bin/ls": 0o755, "/m/x.gguf": 0o644}}
	s := Settings{Backend: BackendLlamaCpp, ModelID: "x", LlamaServerBinary: "/bin/ls", InferenceBaseURL: "http://h"}
	d := decide(s, "/m", fsys)
	if d.Spawn || d.Reason != `inference_base_url "http://h" has no port` {
		t.Fatalf("decide = %+v", d)
	}
	s.InferenceBaseURL = "http://[::]:8080"
	if d := decide(s, "/m", fsys); !d.Spawn {
		t.Fatalf("decide = %+v", d)
	}
}
