//go:build unix

package settings

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
)

// --metrics is added where the binary lists it in --help and the user did
// not set it, right after the managed flags.
func TestBuildConfigAddsMetrics(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	withMetrics := filepath.Join(home, "llama-server")
	without := filepath.Join(home, "old-llama-server")
	os.WriteFile(withMetrics, []byte("#!/bin/sh\necho '--metrics                               enable prometheus compatible metrics endpoint'\n"), 0o755)
	os.WriteFile(without, []byte("#!/bin/sh\necho '--port PORT                             port to listen'\n"), 0o755)
	models := filepath.Join(home, "models")
	os.Mkdir(models, 0o755)
	if err := gguftest.Tiny().Write(filepath.Join(models, "m.gguf")); err != nil {
		t.Fatal(err)
	}
	paths := Paths{ConfigFile: filepath.Join(home, "settings.toml"), ModelsDir: models}
	s := Defaults()
	s.Backend, s.ModelID = BackendLlamaCpp, "m"
	managed := []string{"-m", filepath.Join(models, "m.gguf"), "--host", "127.0.0.1", "--port", "8080", "-c", "4096"}

	tests := []struct {
		binary string
		user   []string
		want   []string
	}{
		{withMetrics, []string{"-t", "4"}, append(slices.Clone(managed), "--metrics", "-t", "4")},
		{withMetrics, []string{"--metrics"}, append(slices.Clone(managed), "--metrics")},
		{without, []string{"-t", "4"}, append(slices.Clone(managed), "-t", "4")},
	}
	for _, tt := range tests {
		s.LlamaServerBinary, s.LlamaServerArgs = tt.binary, tt.user
		cfg := BuildConfig(s, paths)
		if cfg.Command == nil || !slices.Equal(cfg.Command.Args, tt.want) || !cfg.LiveView {
			t.Errorf("%s %v: args %v, want %v (config %+v)", filepath.Base(tt.binary), tt.user, cfg.Command, tt.want, cfg)
		}
	}
}

func TestAPIKey(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	tests := []struct {
		args []string
		env  string
		want string
	}{
		{nil, "", ""},
		{[]string{"--api-key", "a"}, "e", "a"},
		{[]string{"--api-key=b"}, "", "b"},
		{[]string{"--api-key", "a", "--api-key", "c"}, "", "c"},
		{[]string{"-t", "4"}, "e", "e"},
		{[]string{"--api-key"}, "", ""},
	}
	for _, tt := range tests {
		if got := apiKey(tt.args, env(tt.env)); got != tt.want {
			t.Errorf("apiKey(%v, %q) = %q, want %q", tt.args, tt.env, got, tt.want)
		}
	}
}
