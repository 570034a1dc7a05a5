package settings

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// corpusCase is one settings file a user might really write, wrong.
type corpusCase struct {
	name      string
	content   string                                      // {{DIR}} is replaced by a scratch directory
	setup     func(t *testing.T, dir, file string) string // optional: returns the path to load
	atDefault bool                                        // loaded as the default path, not as --config
	line      int                                         // of the first problem (0 = none)
	key       string                                      // of the first problem
	msg       string                                      // substring of the first problem's Msg ("" = no problem expected)
	valid     bool                                        // Check's verdict
	gate      string                                      // substring of Check's last line
}

// TestCorpus loads a corpus of bad settings files, asserting for each the
// file, line and key of the problem, that Check's output matches Load, and
// that the file is left exactly as it was.
func TestCorpus(t *testing.T) {
	const llamaHead = "backend = \"llamacpp\"\nmodel_id = \"m\"\n"
	cases := []corpusCase{
		{name: "corrupt: unterminated string", content: "backend = \"llamacpp\n", line: 1, key: "backend", msg: "new lines"},
		{name: "corrupt: double equals", content: "[supervisor]\nmax_restarts = = 3\n", line: 2, key: "supervisor.max_restarts", msg: "unexpected character"},
		{name: "corrupt: binary junk", content: "\x89PNG\r\n\x1a\n", line: 1, msg: "invalid character"},
		{name: "corrupt: duplicate key", content: "ctx_len = 1\nctx_len = 2\n", line: 2, key: "ctx_len", msg: "already defined"},
		{name: "type: ctx_len string", content: "ctx_len = \"4096\"\n", line: 1, key: "ctx_len", msg: "must be an integer"},
		{name: "type: args string", content: "\n\nllama_server_args = \"--threads 4\"\n", line: 3, key: "llama_server_args", msg: "array of strings"},
		{name: "type: backend bool", content: "backend = true\n", line: 1, key: "backend", msg: "must be a string, not a boolean"},
		{name: "type: level array", content: "[notifications]\nlevel = [\"all\"]\n", line: 2, key: "notifications.level", msg: "not an array"},
		{name: "type: date", content: "[supervisor]\nstop_timeout = 2024-01-01\n", line: 2, key: "supervisor.stop_timeout", msg: "not a date or time"},
		{name: "bare number duration", content: "[supervisor]\nmax_restarts = 3\ninitial_backoff = 500\n", line: 3, key: "supervisor.initial_backoff", msg: "500 is a number without a unit"},
		{name: "unknown backend", content: "backend = \"llama.cpp\"\n", line: 1, key: "backend", msg: `"llama.cpp" is not a backend`},
		{name: "negative duration", content: "[supervisor]\nmax_backoff = \"-10s\"\n", line: 2, key: "supervisor.max_backoff", msg: "not greater than 0"},
		{name: "zero duration", content: "[supervisor]\nhealth_check_interval = \"0s\"\n", line: 2, key: "supervisor.health_check_interval", msg: "not greater than 0"},
		{name: "duration over 24h", content: "[supervisor]\nstability_window = \"1000h\"\n", line: 2, key: "supervisor.stability_window", msg: "longer than 24h"},
		{name: "backoff order", content: "[supervisor]\ninitial_backoff = \"1m\"\n", line: 2, key: "supervisor.initial_backoff", msg: "greater than max_backoff"},
		{name: "model_id twice", content: llamaHead + "model_id = \"../../etc/passwd\"\n", line: 3, key: "model_id", msg: "already defined"},
		{name: "model_id traversal (single)", content: "backend = \"llamacpp\"\nmodel_id = \"../../etc/passwd\"\n", line: 2, key: "model_id", msg: "is a path"},
		{name: "base URL without port", content: llamaHead + "inference_base_url = \"http://localhost/v1\"\n", line: 3, key: "inference_base_url", msg: "has no port"},
		{name: "port 0", content: llamaHead + "inference_base_url = \"http://127.0.0.1:0\"\n", line: 3, key: "inference_base_url", msg: "out of range 1..65535"},
		{name: "port 70000", content: llamaHead + "inference_base_url = \"http://127.0.0.1:70000\"\n", line: 3, key: "inference_base_url", msg: "out of range 1..65535"},
		{name: "binary with spaces missing", content: llamaHead + "llama_server_binary = \"{{DIR}}/my llama/llama-server\"\n",
			valid: true, gate: "gate: refuse: llama_server_binary {{DIR}}/my llama/llama-server not found"},
		{name: "binary is a directory", content: llamaHead + "llama_server_binary = \"{{DIR}}\"\n",
			valid: true, gate: "gate: refuse: llama_server_binary {{DIR}} is a directory"},
		{name: "binary relative", content: llamaHead + "llama_server_binary = \"./bin/llama\"\n", line: 3, key: "llama_server_binary", msg: "relative path"},
		{name: "args --port", content: "llama_server_args = [\"--port\", \"8081\"]\n", line: 1, key: "llama_server_args", msg: `"--port" is set by ocm-tray`},
		{name: "args --port=1", content: "llama_server_args = [\n  \"-ngl\", \"99\",\n  \"--port=1\",\n]\n", line: 3, key: "llama_server_args", msg: `"--port=1" is set by ocm-tray`},
		{name: "control char in model_id", content: "backend = \"llamacpp\"\nmodel_id = \"qwen\\u0007\"\n", line: 2, key: "model_id", msg: "control character"},
		{name: "raw tab in binary path", content: "llama_server_binary = '/usr/bin/llama\tserver'\n", line: 1, key: "llama_server_binary", msg: "control character"},
		{name: "huge int", content: "ctx_len = 99999999999999999999\n", line: 1, key: "ctx_len", msg: "too large"},
		{name: "huge int64", content: "[supervisor]\nmax_restarts = -9223372036854775808\n", line: 2, key: "supervisor.max_restarts", msg: "out of range"},
		{name: "huge ctx_len", content: "ctx_len = 4294967296\n", line: 1, key: "ctx_len", msg: "4294967296 is out of range"},
		{name: "bad notification level", content: "[notifications]\nlevel = \"critical\"\n", line: 2, key: "notifications.level", msg: "not a notification level"},
		{name: "array of tables", content: "[[notifications]]\nlevel = \"all\"\n", line: 1, key: "notifications", msg: "array of tables"},
		{name: "empty file", content: "", valid: true, gate: `gate: refuse: backend is "auto"`},
		{name: "only comments", content: "# nothing here\n\n", valid: true, gate: `gate: refuse: backend is "auto"`},
		{name: "unknown keys only", content: "future_key = 1\n", line: 1, key: "future_key", msg: "unknown key", valid: true, gate: "gate: refuse"},
		{name: "directory as config", setup: func(t *testing.T, dir, file string) string { return dir },
			msg: "is a directory", gate: "gate: refuse: invalid settings in"},
		{name: "directory at default path", atDefault: true, setup: func(t *testing.T, dir, file string) string { return dir },
			msg: "is a directory", gate: "gate: refuse: invalid settings in"},
		{name: "missing explicit", setup: func(t *testing.T, dir, file string) string { return filepath.Join(dir, "nope.toml") },
			msg: "settings file not found"},
		{name: "missing at default path", atDefault: true, setup: func(t *testing.T, dir, file string) string { return filepath.Join(dir, "nope.toml") },
			valid: true, gate: `gate: refuse: backend is "auto"`},
		{name: "parent is a file", setup: func(t *testing.T, dir, file string) string { return filepath.Join(file, "settings.toml") },
			content: "x", msg: "not a directory"},
		{name: "too large", content: strings.Repeat("# padding\n", MaxFileSize/10+1), msg: "too large"},
	}
	if os.Geteuid() != 0 {
		// Root reads a mode-0 file anyway (as in CI); see TestUnreadableFile.
		cases = append(cases, corpusCase{name: "unreadable", content: "backend = \"ollama\"\n",
			setup: func(t *testing.T, dir, file string) string { chmod(t, file, 0); return file },
			msg:   "permission denied"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sub := func(s string) string { return strings.ReplaceAll(s, "{{DIR}}", dir) }
			file := filepath.Join(dir, "settings.toml")
			content := sub(tc.content)
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			path := file
			if tc.setup != nil {
				path = tc.setup(t, dir, file)
			}
			explicit := !tc.atDefault
			old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			if err := os.Chtimes(file, old, old); err != nil {
				t.Fatal(err)
			}

			_, probs := Load(path, explicit)
			if tc.msg == "" {
				if len(probs) != 0 {
					t.Fatalf("unexpected problems:\n%s", dump(probs))
				}
			} else {
				if len(probs) == 0 {
					t.Fatalf("no problem, want %q", tc.msg)
				}
				p := probs[0]
				if p.File != path || p.Line != tc.line || p.Key != tc.key || !strings.Contains(p.Msg, tc.msg) || p.Fix == "" {
					t.Fatalf("first problem = %#v\nwant file %s line %d key %q msg ~%q", p, path, tc.line, tc.key, tc.msg)
				}
			}
			if HasErrors(probs) == tc.valid {
				t.Fatalf("HasErrors = %v, want valid = %v:\n%s", HasErrors(probs), tc.valid, dump(probs))
			}

			lines, valid := Check(path, explicit, filepath.Join(dir, "models"))
			if valid != tc.valid {
				t.Errorf("Check valid = %v, want %v", valid, tc.valid)
			}
			if len(lines) != len(probs)+1 {
				t.Fatalf("Check printed %d lines for %d problems:\n%s", len(lines), len(probs), strings.Join(lines, "\n"))
			}
			for i, p := range probs {
				if lines[i] != p.String() {
					t.Errorf("line %d = %q, want %q", i, lines[i], p.String())
				}
			}
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "gate: spawn") && !strings.HasPrefix(last, "gate: refuse: ") {
				t.Errorf("last line %q is not the gate's decision", last)
			}
			if g := sub(tc.gate); g != "" && !strings.Contains(last, g) {
				t.Errorf("last line %q, want it to contain %q", last, g)
			}

			// Load and Check never write: same bytes, same mtime.
			got, err := os.ReadFile(file)
			if err != nil && tc.name != "unreadable" {
				t.Fatal(err)
			}
			if tc.name != "unreadable" && !bytes.Equal(got, []byte(content)) {
				t.Errorf("file content changed")
			}
			fi, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.ModTime().Equal(old) {
				t.Errorf("mtime changed: %v", fi.ModTime())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("files appeared next to the settings file: %v", entries)
			}
		})
	}
	if n := len(cases); n < 25 {
		t.Fatalf("corpus has only %d cases", n)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(path, 0o600) })
}

// A mode-0 file: unreadable for a normal user (an error naming the file),
// readable for root, who then gets its settings. Both are asserted, whichever
// this test runs as, so the case is never silently skipped.
func TestUnreadableFile(t *testing.T) {
	p := writeFile(t, "settings.toml", "backend = \"ollama\"\n")
	chmod(t, p, 0)
	s, probs := Load(p, false)
	if _, err := os.ReadFile(p); err == nil {
		// Running as root (or with CAP_DAC_OVERRIDE): the file is readable.
		if len(probs) != 0 || s.Backend != BackendOllama {
			t.Fatalf("readable mode-0 file: %+v %v", s, probs)
		}
		return
	}
	if len(probs) != 1 || probs[0].File != p || !strings.Contains(probs[0].Msg, "permission denied") || !strings.Contains(probs[0].Fix, "chmod u+r") {
		t.Fatalf("problems = %v", probs)
	}
	if !HasErrors(probs) {
		t.Fatal("an unreadable file is not an error")
	}
}

// errText strips the path os puts in front of errors; errors without one
// come through whole.
func TestErrText(t *testing.T) {
	_, err := os.Open("/nonexistent/x")
	if got := errText(err); got != "no such file or directory" {
		t.Errorf("errText = %q", got)
	}
	if got := errText(os.ErrClosed); got != os.ErrClosed.Error() {
		t.Errorf("errText = %q", got)
	}
}
