package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// template documents every key with its default. The keys are commented out
// so the file parses to Defaults() and a later version's defaults still
// apply to keys the user never touched; the two table headers stay, so a
// key uncommented below them lands in its table.
const template = `# ocm-tray settings.
#
# ocm-tray starts and supervises llama.cpp's llama-server for you. It only
# does so when backend = "llamacpp", llama_server_binary is set and the model
# file exists. Uncomment a line (remove the "# ") to change it; the values
# shown are the defaults. Run "ocm-tray check" to validate this file.
# ocm-tray never rewrites this file.

# Which inference backend you use: "auto", "ollama" or "llamacpp".
# Only "llamacpp" is started by ocm-tray; Ollama runs its own service.
# backend = "auto"

# The model to load: the file <models_dir>/<model_id>.gguf, named without
# ".gguf". Not set by default.
# model_id = "qwen2.5-0.5b-instruct-q4_k_m"

# Where llama-server listens. Host and port are passed to llama-server; a
# path such as /v1 is ignored. A host other than 127.0.0.1 or localhost makes
# the server reachable from the network.
# inference_base_url = "http://127.0.0.1:8080"

# The llama-server program: an absolute path, a path starting with ~/, or a
# bare name looked up on PATH. Not set by default: nothing is started.
# llama_server_binary = "/usr/local/bin/llama-server"

# The folder holding the .gguf files. "" means $XDG_DATA_HOME/ocm/models
# (usually ~/.local/share/ocm/models).
# models_dir = ""

# Context length passed to llama-server as -c; 0 uses the model's own.
# ctx_len = 4096

# Extra llama-server arguments, appended as they are (never through a
# shell). -m, --model, --host, --port, -c and --ctx-size are set by ocm-tray
# from the keys above and are not allowed here.
# llama_server_args = []

[supervisor]
# Restarts after a failure before giving up (0 = never restart).
# max_restarts = 3
# Durations are strings with a unit: "500ms", "10s", "2m", "1h" (at most "24h").
# Wait before the first restart; it doubles with each restart up to max_backoff.
# initial_backoff = "500ms"
# max_backoff = "10s"
# A server that ran this long before failing starts the restart count afresh.
# stability_window = "60s"
# How often a running server's health is checked...
# health_check_interval = "5s"
# ...and how long it may go without a healthy answer before it is restarted.
# health_check_timeout = "15s"
# How long loading the model may take before the start counts as failed.
# Big models on slow disks can need many minutes.
# startup_timeout = "10m"
# How long llama-server gets to exit after SIGTERM before it is killed.
# stop_timeout = "10s"

[notifications]
# Desktop notifications: "all" (every change), "failures" (failures and the
# recovery from them) or "off".
# level = "all"

[models]
# "single": llama-server serves model_id, and the Models menu (or
# "ocm-tray use MODEL") switches it. "router": llama-server's router serves
# every model in models_dir and loads one when a request names it, or when
# you load it from the menu; model_id is loaded at start. Router mode needs
# a llama-server whose --help lists --models-dir.
# mode = "single"
# Router mode: how many models may be loaded at once (0 = no limit); loading
# one more unloads the one used longest ago.
# max_loaded = 1
# Unload the model after this long without requests, freeing its memory;
# the next request loads it again. "0s" = never.
# sleep_after = "0s"
[power]
# Keep the session from idling into suspend while llama-server generates
# (a logind "idle" inhibitor, held only while a request is processed).
# keep_awake_while_generating = true
`

// Template returns the commented settings.toml written by "Open settings"
// when no file exists. It parses to Defaults().
func Template() []byte { return []byte(template) }

// Filled are values found for a new settings file (ocm-tray init looks for
// llama-server and the model). An empty field keeps its line commented out.
type Filled struct {
	Backend           string
	LlamaServerBinary string
	ModelID           string
}

// FilledTemplate is Template with the keys of f set: each key's commented
// example line becomes the key with f's value, so the comment above it
// still explains it.
func FilledTemplate(f Filled) []byte {
	out := template
	for _, kv := range []struct{ key, value string }{
		{"backend", f.Backend},
		{"model_id", f.ModelID},
		{"llama_server_binary", f.LlamaServerBinary},
	} {
		if kv.value == "" {
			continue
		}
		i := strings.Index(out, "\n# "+kv.key+" = ")
		if i < 0 {
			continue // a key without an example line; the template's test keeps them all
		}
		start := i + 1
		end := start + strings.IndexByte(out[start:], '\n')
		out = out[:start] + kv.key + " = " + tomlString(kv.value) + out[end:]
	}
	return []byte(out)
}

// tomlString writes s as a TOML basic string: quotes and backslashes are
// escaped, and so is every control character (TOML allows none raw).
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// CreateTemplate writes Template() to path unless a file is already there:
// see CreateFilledTemplate.
func CreateTemplate(path string) (created bool, err error) {
	return CreateFilledTemplate(path, Filled{})
}

// CreateFilledTemplate writes FilledTemplate(f) to path unless a file is
// already there: the file is created with O_EXCL, so an existing settings
// file is never overwritten, even one created a moment ago by the user's
// editor. created is false (and err nil) when the file existed. Missing
// parent directories are created 0700 and the file 0600: llama_server_args
// may hold an API key.
func CreateFilledTemplate(path string, f Filled) (created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("create settings directory: %w", err)
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create settings template: %w", err)
	}
	_, werr := file.Write(FilledTemplate(f))
	cerr := file.Close()
	if err := errors.Join(werr, cerr); err != nil {
		// A half-written template would be a broken settings file; we made
		// it, so we may remove it.
		_ = os.Remove(path)
		return false, fmt.Errorf("write settings template %s: %w", path, err)
	}
	return true, nil
}
