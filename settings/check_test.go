package settings

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
)

// TestCheck asserts `ocm-tray check` output line for line.
func TestCheck(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("executable bits")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	bin := filepath.Join(home, "bin", "llama-server")
	models := filepath.Join(home, "models")
	for _, d := range []string{filepath.Dir(bin), models} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := gguftest.Tiny().Write(filepath.Join(models, "m.gguf")); err != nil {
		t.Fatal(err)
	}
	const good = "backend = \"llamacpp\"\nmodel_id = \"m\"\nllama_server_binary = \"~/bin/llama-server\"\n"

	for _, tc := range []struct {
		name     string
		content  string // "-" = no file
		explicit bool
		lines    []string // F = the file's path
		valid    bool
	}{
		{"spawn", good, true, []string{"gate: spawn"}, true},
		{"spawn with warnings", good + "inference_base_url = \"http://0.0.0.0:8080\"\ncolour = \"blue\"\n", true, []string{
			"F:4: inference_base_url: host 0.0.0.0 is not loopback: llama-server is reachable from the network; use 127.0.0.1 unless other machines should reach it",
			"F:5: colour: unknown key, ignored; check the spelling; keys a newer ocm-tray knows are ignored by this one",
			"gate: spawn",
		}, true},
		{"model missing", strings.Replace(good, `"m"`, `"big"`, 1), true, []string{
			"gate: refuse: model file ~/models/big.gguf not found",
		}, true},
		{"ollama", "backend = \"ollama\"\n", true, []string{
			`gate: refuse: backend is "ollama": Ollama runs its own service, ocm-tray does not spawn it`,
		}, true},
		{"empty", "", true, []string{
			`gate: refuse: backend is "auto": ocm-tray runs llama-server only when backend = "llamacpp" in ~/settings.toml`,
		}, true},
		{"no file at default path", "-", false, []string{
			`gate: refuse: backend is "auto": ocm-tray runs llama-server only when backend = "llamacpp" in ~/settings.toml`,
		}, true},
		{"no file given explicitly", "-", true, []string{
			"F: settings file not found; check the --config path, or leave --config out to use $XDG_CONFIG_HOME/ocm/settings.toml",
			"gate: refuse: invalid settings in F",
		}, false},
		{"errors", "backend = \"llamacpp\"\nmodel_id = \"../m\"\n[supervisor]\nmax_backoff = \"0s\"\nwhat = 1\n", true, []string{
			`F:2: model_id: "../m" is a path, not a plain file name; write the file's name in models_dir without .gguf, e.g. model_id = "qwen2.5-0.5b-instruct-q4_k_m"`,
			`F:4: supervisor.max_backoff: 0s is not greater than 0; use a positive duration, e.g. max_backoff = "10s"`,
			"F:5: supervisor.what: unknown key, ignored; check the spelling; keys a newer ocm-tray knows are ignored by this one",
			"gate: refuse: invalid settings in F",
		}, false},
		{"syntax", "backend = \"llamacpp\"\n[supervisor]\nmax_restarts = three\n", true, []string{
			`F:3: supervisor.max_restarts: expected keyword "true"; write text in double quotes ("..."), numbers without them, durations as "10s"`,
			"gate: refuse: invalid settings in F",
		}, false},
		{"bare number", "[supervisor]\nstop_timeout = 10\n", true, []string{
			`F:2: supervisor.stop_timeout: 10 is a number without a unit; write it as a string with a unit, e.g. stop_timeout = "10s"`,
			"gate: refuse: invalid settings in F",
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(home, "settings.toml")
			os.Remove(path)
			if tc.content != "-" {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			lines, valid := Check(path, tc.explicit, models)
			want := make([]string, len(tc.lines))
			for i, l := range tc.lines {
				want[i] = strings.ReplaceAll(strings.ReplaceAll(l, "F:", path+":"), " F", " "+path)
			}
			if valid != tc.valid || strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Fatalf("Check = valid %v\n%s\nwant valid %v\n%s", valid, strings.Join(lines, "\n"), tc.valid, strings.Join(want, "\n"))
			}
		})
	}
}
