package settings

import (
	"fmt"
	"strings"
	"testing"
)

// want describes one expected problem.
type want struct {
	line    int
	key     string
	msg     string // substring of Msg
	fix     string // substring of Fix ("" = any, but a Fix must exist)
	warning bool
}

func (w want) match(p Problem) bool {
	return p.Line == w.line && p.Key == w.key && strings.Contains(p.Msg, w.msg) &&
		strings.Contains(p.Fix, w.fix) && p.Warning == w.warning
}

// checkProblems asserts that problems are exactly wants, in order.
func checkProblems(t *testing.T, file string, problems []Problem, wants []want) {
	t.Helper()
	if len(problems) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%s", len(problems), len(wants), dump(problems))
	}
	for i, p := range problems {
		if p.File != file {
			t.Errorf("problem %d: File = %q, want %q", i, p.File, file)
		}
		if p.Fix == "" {
			t.Errorf("problem %d has no fix: %s", i, p)
		}
		if !wants[i].match(p) {
			t.Errorf("problem %d = %#v\nwant %+v", i, p, wants[i])
		}
	}
}

func dump(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s (warning=%v)\n", p, p.Warning)
	}
	return b.String()
}

const llama = "backend = \"llamacpp\"\nmodel_id = \"m\"\n" // lines 1-2

// TestRules covers every rule of docs/settings.md, each in isolation, plus the
// reporting rules.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []want
	}{
		// Durations.
		{"duration bare number", "[supervisor]\ninitial_backoff = 500\n",
			[]want{{2, "supervisor.initial_backoff", "500 is a number without a unit", `initial_backoff = "500ms"`, false}}},
		{"duration float", "[supervisor]\nmax_backoff = 1.5\n",
			[]want{{2, "supervisor.max_backoff", "1.5 is a number without a unit", `max_backoff = "10s"`, false}}},
		{"duration bool", "[supervisor]\nstop_timeout = true\n",
			[]want{{2, "supervisor.stop_timeout", "must be a duration string, not a boolean", `stop_timeout = "10s"`, false}}},
		{"duration not parseable", "[supervisor]\nstartup_timeout = \"10 minutes\"\n",
			[]want{{2, "supervisor.startup_timeout", `"10 minutes" is not a duration`, `"10m"`, false}}},
		{"duration no unit string", "[supervisor]\nstartup_timeout = \"600\"\n",
			[]want{{2, "supervisor.startup_timeout", `"600" is not a duration`, "unit", false}}},
		{"duration zero", "[supervisor]\nstop_timeout = \"0s\"\n",
			[]want{{2, "supervisor.stop_timeout", "0s is not greater than 0", "positive", false}}},
		{"duration negative", "[supervisor]\nstability_window = \"-1s\"\n",
			[]want{{2, "supervisor.stability_window", "-1s is not greater than 0", "", false}}},
		{"duration over 24h", "[supervisor]\nstartup_timeout = \"25h\"\n",
			[]want{{2, "supervisor.startup_timeout", "25h is longer than 24h", `"24h"`, false}}},
		{"duration exactly 24h ok", "[supervisor]\nstartup_timeout = \"24h\"\nmax_backoff = \"24h\"\n", nil},
		{"duration 1ns ok", "[supervisor]\ninitial_backoff = \"1ns\"\n", nil},
		{"initial above max", "[supervisor]\ninitial_backoff = \"20s\"\nmax_backoff = \"5s\"\n",
			[]want{{2, "supervisor.initial_backoff", "initial_backoff (20s) is greater than max_backoff (5s)", "at most", false}}},
		{"max below default initial", "[supervisor]\nmax_backoff = \"100ms\"\n",
			[]want{{2, "supervisor.max_backoff", "initial_backoff (500ms) is greater than max_backoff (100ms)", "", false}}},
		{"equal backoffs ok", "[supervisor]\ninitial_backoff = \"3s\"\nmax_backoff = \"3s\"\n", nil},
		{"interval above timeout", "[supervisor]\nhealth_check_timeout = \"15s\"\nhealth_check_interval = \"20s\"\n",
			[]want{{3, "supervisor.health_check_interval", "health_check_interval (20s) is greater than health_check_timeout (15s)", "", false}}},
		{"timeout below default interval", "[supervisor]\n\nhealth_check_timeout = \"1s\"\n",
			[]want{{3, "supervisor.health_check_timeout", "greater than health_check_timeout (1s)", "", false}}},

		// max_restarts and ctx_len.
		{"max_restarts 0 ok", "[supervisor]\nmax_restarts = 0\n", nil},
		{"max_restarts 100 ok", "[supervisor]\nmax_restarts = 100\n", nil},
		{"max_restarts 101", "[supervisor]\nmax_restarts = 101\n",
			[]want{{2, "supervisor.max_restarts", "101 is out of range", "0 (never restart) up to 100", false}}},
		{"max_restarts -1", "[supervisor]\nmax_restarts = -1\n",
			[]want{{2, "supervisor.max_restarts", "-1 is out of range", "", false}}},
		{"max_restarts string", "[supervisor]\nmax_restarts = \"3\"\n",
			[]want{{2, "supervisor.max_restarts", "must be an integer, not a string", "max_restarts = 3", false}}},
		{"max_restarts huge", "[supervisor]\nmax_restarts = 9223372036854775807\n",
			[]want{{2, "supervisor.max_restarts", "9223372036854775807 is out of range", "", false}}},
		{"ctx_len 0 ok", "ctx_len = 0\n", nil},
		{"ctx_len max ok", "ctx_len = 16777216\n", nil},
		{"ctx_len over", "ctx_len = 16777217\n",
			[]want{{1, "ctx_len", "16777217 is out of range", "up to 16777216", false}}},
		{"ctx_len negative", "ctx_len = -4096\n", []want{{1, "ctx_len", "-4096 is out of range", "", false}}},
		{"ctx_len float", "ctx_len = 4096.0\n", []want{{1, "ctx_len", "must be a whole number", "ctx_len = 4096", false}}},
		{"ctx_len hex ok", "ctx_len = 0x1000\n", nil},

		// Backend.
		{"unknown backend", "backend = \"vllm\"\n",
			[]want{{1, "backend", `"vllm" is not a backend`, `"auto", "ollama", "llamacpp"`, false}}},
		{"backend case", "backend = \"LlamaCpp\"\n", []want{{1, "backend", `"LlamaCpp" is not a backend`, "", false}}},
		{"backend empty", "backend = \"\"\n", []want{{1, "backend", `"" is not a backend`, "", false}}},
		{"backend table", "[backend]\nname = \"llamacpp\"\n",
			[]want{{1, "backend", "must be a string, not a table", `backend = "llamacpp"`, false}}},

		// llama_server_binary.
		{"binary absolute ok", "llama_server_binary = \"/opt/llama/llama-server\"\n", nil},
		{"binary tilde ok", "llama_server_binary = \"~/bin/llama-server\"\n", nil},
		{"binary bare ok", "llama_server_binary = \"llama-server\"\n", nil},
		{"binary empty = unset", "llama_server_binary = \"\"\n", nil},
		{"binary with spaces ok", "llama_server_binary = \"/opt/my llama/llama-server\"\n", nil},
		{"binary relative", "\nllama_server_binary = \"./bin/llama\"\n",
			[]want{{2, "llama_server_binary", `"./bin/llama" is a relative path`, "absolute path", false}}},
		{"binary relative dir", "llama_server_binary = \"bin/llama-server\"\n",
			[]want{{1, "llama_server_binary", "relative path", "", false}}},
		{"binary other user's home", "llama_server_binary = \"~bob/llama-server\"\n",
			[]want{{1, "llama_server_binary", "relative path", "", false}}},
		{"binary NUL", "llama_server_binary = \"/usr/bin/llama\\u0000x\"\n",
			[]want{{1, "llama_server_binary", "control character", "", false}}},
		{"binary tab", "llama_server_binary = \"/usr/bin/llama\\tserver\"\n",
			[]want{{1, "llama_server_binary", "control character", "", false}}},
		{"binary number", "llama_server_binary = 1\n",
			[]want{{1, "llama_server_binary", "must be a string, not an integer", "", false}}},

		// models_dir.
		{"models_dir absolute ok", "models_dir = \"/srv/models\"\n", nil},
		{"models_dir tilde ok", "models_dir = \"~/models\"\n", nil},
		{"models_dir relative", "models_dir = \"models\"\n",
			[]want{{1, "models_dir", `"models" is a relative path`, "absolute", false}}},
		{"models_dir control", "models_dir = \"/srv/\\u001bmodels\"\n",
			[]want{{1, "models_dir", "control character", "", false}}},

		// llama_server_args.
		{"args ok", "llama_server_args = [\"--threads\", \"4\", \"--api-key\", \"secret\"]\n", nil},
		{"args empty ok", "llama_server_args = []\n", nil},
		{"args --port", "llama_server_args = [\"--port\", \"1\"]\n",
			[]want{{1, "llama_server_args", `"--port" is set by ocm-tray itself`, "inference_base_url", false}}},
		{"args --port=1", "llama_server_args = [\n  \"--threads\", \"2\",\n  \"--port=1\",\n]\n",
			[]want{{3, "llama_server_args", `"--port=1" is set by ocm-tray itself`, "inference_base_url", false}}},
		{"args every managed flag", "llama_server_args = [\n\"-m\",\n\"--model=x\",\n\"--host\",\n\"-c\",\n\"--ctx-size=8\",\n]\n",
			[]want{
				{2, "llama_server_args", `"-m" is set by ocm-tray`, "model_id", false},
				{3, "llama_server_args", `"--model=x" is set by ocm-tray`, "model_id", false},
				{4, "llama_server_args", `"--host" is set by ocm-tray`, "inference_base_url", false},
				{5, "llama_server_args", `"-c" is set by ocm-tray`, "ctx_len", false},
				{6, "llama_server_args", `"--ctx-size=8" is set by ocm-tray`, "ctx_len", false},
			}},
		{"args lookalike ok", "llama_server_args = [\"--model-url\", \"x\", \"-cb\", \"--hostname\"]\n", nil},
		{"args NUL", "llama_server_args = [\"a\\u0000b\"]\n",
			[]want{{1, "llama_server_args", "NUL", "", false}}},
		{"args not array", "llama_server_args = \"--threads 4\"\n",
			[]want{{1, "llama_server_args", "must be an array of strings, not a string", `["--threads", "4"]`, false}}},
		{"args element number", "llama_server_args = [\n\"--threads\",\n4,\n]\n",
			[]want{{3, "llama_server_args", "element 2 must be a string, not an integer", "quote every argument", false}}},

		// model_id and inference_base_url: checked only for llamacpp.
		{"model_id traversal", "backend = \"llamacpp\"\nmodel_id = \"../../etc/passwd\"\n",
			[]want{{2, "model_id", `"../../etc/passwd" is a path`, "without .gguf", false}}},
		{"model_id backslash", "backend = \"llamacpp\"\nmodel_id = 'a\\b'\n",
			[]want{{2, "model_id", "is a path", "", false}}},
		{"model_id dotdot", "backend = \"llamacpp\"\nmodel_id = \"..\"\n",
			[]want{{2, "model_id", `".."`, "", false}}},
		{"model_id empty", "backend = \"llamacpp\"\nmodel_id = \"\"\n",
			[]want{{2, "model_id", "is empty", "", false}}},
		{"model_id control", "backend = \"llamacpp\"\nmodel_id = \"a\\nb\"\n",
			[]want{{2, "model_id", "control character", "", false}}},
		{"model_id .gguf warns", "backend = \"llamacpp\"\nmodel_id = \"x.gguf\"\n",
			[]want{{2, "model_id", "ends in .gguf", `model_id = "x"`, true}}},
		{"model_id 250 bytes ok", "backend = \"llamacpp\"\nmodel_id = \"" + strings.Repeat("m", 250) + "\"\n", nil},
		{"model_id 251 bytes", "backend = \"llamacpp\"\nmodel_id = \"" + strings.Repeat("m", 251) + "\"\n",
			[]want{{2, "model_id", "is 251 bytes long: with .gguf after it, no file name can be longer than 255 bytes", "without .gguf", false}}},
		{"model_id 256 bytes of UTF-8", "backend = \"llamacpp\"\nmodel_id = \"" + strings.Repeat("é", 128) + "\"\n",
			[]want{{2, "model_id", "is 256 bytes long", "", false}}},
		{"model_id right-to-left override", "backend = \"llamacpp\"\nmodel_id = \"evil\u202Efoog\"\n",
			[]want{{2, "model_id", `"evil\u202efoog" contains U+202E, an invisible character`, "", false}}},
		{"model_id isolate", "backend = \"llamacpp\"\nmodel_id = \"a\u2067b\"\n", []want{{2, "model_id", "U+2067", "", false}}},
		{"model_id zero-width space", "backend = \"llamacpp\"\nmodel_id = \"qwen\u200B\"\n", []want{{2, "model_id", "U+200B", "", false}}},
		{"model_id byte-order mark", "backend = \"llamacpp\"\nmodel_id = \"\uFEFFqwen\"\n", []want{{2, "model_id", "U+FEFF", "", false}}},
		{"model_id soft hyphen", "backend = \"llamacpp\"\nmodel_id = \"qw\u00ADen\"\n", []want{{2, "model_id", "U+00AD", "", false}}},
		{"model_id non-ASCII ok", "backend = \"llamacpp\"\nmodel_id = \"qwen-ünï-模型-🦙\"\n", nil},
		{"binary right-to-left override", "llama_server_binary = \"/opt/\u202Enib/llama-server\"\n",
			[]want{{1, "llama_server_binary", "contains U+202E, an invisible character that changes the order", "retype", false}}},
		{"models_dir isolate", "models_dir = \"/srv/\u2066models\"\n", []want{{1, "models_dir", "U+2066", "", false}}},
		{"models_dir emoji with joiner ok", "models_dir = \"/srv/👩\u200D💻\"\n", nil},
		{"binary longer than a path", "llama_server_binary = \"/" + strings.Repeat("b", 4096) + "\"\n",
			[]want{{1, "llama_server_binary", "(4097 bytes) is longer than any path can be", "", false}}},
		{"models_dir longer than a path", "models_dir = \"/" + strings.Repeat("d", 4096) + "\"\n",
			[]want{{1, "models_dir", "is longer than any path can be", "", false}}},
		{"model_id absent ok (gate refuses)", "backend = \"llamacpp\"\n", nil},
		{"model_id path kept for ollama", "backend = \"ollama\"\nmodel_id = \"../x\"\n", nil},
		{"url no port", llama + "inference_base_url = \"http://127.0.0.1\"\n",
			[]want{{3, "inference_base_url", `"http://127.0.0.1" has no port`, "http://HOST:PORT", false}}},
		{"url port 0", llama + "inference_base_url = \"http://127.0.0.1:0\"\n",
			[]want{{3, "inference_base_url", "port 0 in", "", false}}},
		{"url port 70000", llama + "inference_base_url = \"http://127.0.0.1:70000\"\n",
			[]want{{3, "inference_base_url", "port 70000 in", "", false}}},
		{"url https", llama + "inference_base_url = \"https://127.0.0.1:8443\"\n",
			[]want{{3, "inference_base_url", "plain http", "", false}}},
		{"url not a url", llama + "inference_base_url = \"localhost:8080\"\n",
			[]want{{3, "inference_base_url", "is not a URL", "", false}}},
		{"url with path ok", llama + "inference_base_url = \"http://localhost:8081/v1\"\n", nil},
		{"url ipv6 ok", llama + "inference_base_url = \"http://[::1]:8081\"\n", nil},
		{"url bind-all warns", llama + "inference_base_url = \"http://0.0.0.0:8080\"\n",
			[]want{{3, "inference_base_url", "host 0.0.0.0 is not loopback: llama-server is reachable from the network", "127.0.0.1", true}}},
		{"url default no port ollama ok", "backend = \"ollama\"\ninference_base_url = \"http://localhost\"\n", nil},
		{"url default host auto ok", "inference_base_url = \"http://0.0.0.0:1\"\n", nil},

		// Notifications.
		{"level ok", "[notifications]\nlevel = \"failures\"\n", nil},
		{"level bad", "[notifications]\nlevel = \"some\"\n",
			[]want{{2, "notifications.level", `"some" is not a notification level`, `"all", "failures" or "off"`, false}}},
		{"level inline", "notifications = { level = \"loud\" }\n",
			[]want{{1, "notifications.level", `"loud"`, "", false}}},
		{"level dotted", "notifications.level = \"off\"\n", nil},

		// Tables.
		{"supervisor not table", "supervisor = 3\n",
			[]want{{1, "supervisor", "must be a table, not an integer", "[supervisor]", false}}},
		{"supervisor array of tables", "[[supervisor]]\nmax_restarts = 1\n",
			[]want{{1, "supervisor", "array of tables", "single brackets", false}}},
		{"supervisor dotted", "supervisor.max_restarts = 200\n",
			[]want{{1, "supervisor.max_restarts", "200 is out of range", "", false}}},
		{"supervisor inline", "supervisor = {\n max_restarts = 200 }\n",
			[]want{{2, "supervisor.max_restarts", "200 is out of range", "", false}}},

		// Unknown keys: one warning naming all of them.
		{"unknown keys", "theme = \"dark\"\n[supervisor]\nmax_restart = 2\n[notifications]\nsound = true\n[extra]\na = 1\n",
			[]want{{1, "theme, supervisor.max_restart, notifications.sound, extra", "unknown keys, ignored", "spelling", true}}},
		{"one unknown key", "\n\"odd key\" = 1\n",
			[]want{{2, `"odd key"`, "unknown key, ignored", "", true}}},

		// A settings key in the wrong table: where it belongs, whichever
		// way it is written.
		{"table key at the top", "max_restarts = 5\n",
			[]want{{1, "max_restarts", "max_restarts belongs under [supervisor]; it is ignored at the top level", "below the [supervisor] line, or write it as supervisor.max_restarts", true}}},
		{"level at the top", "\nlevel = \"off\"\n",
			[]want{{2, "level", "level belongs under [notifications]", "write it as notifications.level", true}}},
		{"top-level key under a table", "[supervisor]\nmax_restarts = 5\nmodel_id = \"m\"\n",
			[]want{{3, "supervisor.model_id", "model_id belongs at the top level, not under [supervisor]; it is ignored there", "above the first [table] line: every key below a [supervisor] line belongs to [supervisor]", true}}},
		{"top-level key under notifications", "[notifications]\nbackend = \"llamacpp\"\n",
			[]want{{2, "notifications.backend", "backend belongs at the top level, not under [notifications]", "", true}}},
		{"top-level key dotted into a table", "supervisor.ctx_len = 1\n",
			[]want{{1, "supervisor.ctx_len", "ctx_len belongs at the top level", "", true}}},
		{"top-level key in an inline table", "notifications = { level = \"off\", models_dir = \"/m\" }\n",
			[]want{{1, "notifications.models_dir", "models_dir belongs at the top level", "", true}}},
		{"key in the other table", "[notifications]\nstop_timeout = \"5s\"\n[supervisor]\nlevel = \"off\"\n",
			[]want{
				{2, "notifications.stop_timeout", "stop_timeout belongs under [supervisor], not [notifications]", "below the [supervisor] line", true},
				{4, "supervisor.level", "level belongs under [notifications], not [supervisor]", "below the [notifications] line", true},
			}},
		{"settings keys in an unknown table", "[server]\nmax_restarts = 5\nmodel_id = \"m\"\n",
			[]want{
				{1, "server", "unknown key", "", true},
				{2, "server.max_restarts", "max_restarts belongs under [supervisor], not [server]", "", true},
				{3, "server.model_id", "model_id belongs at the top level, not under [server]", "", true},
			}},
		{"misplaced and unknown together", "colour = 1\nstop_timeout = \"1s\"\n",
			[]want{
				{1, "colour", "unknown key", "", true},
				{2, "stop_timeout", "belongs under [supervisor]", "", true},
			}},

		// Reporting: every semantic error, sorted by line, with warnings.
		{"all semantic errors", "backend = \"llamacpp\"\nmodel_id = \"a/b\"\nctx_len = -1\nunknown = 1\n[supervisor]\nmax_restarts = 1000\nstop_timeout = \"0s\"\n[notifications]\nlevel = \"x\"\n",
			[]want{
				{2, "model_id", "is a path", "", false},
				{3, "ctx_len", "out of range", "", false},
				{4, "unknown", "unknown key", "", true},
				{6, "supervisor.max_restarts", "out of range", "", false},
				{7, "supervisor.stop_timeout", "not greater than 0", "", false},
				{9, "notifications.level", "not a notification level", "", false},
			}},
		// Reporting: only the first type error; semantic errors are not
		// reported after one, warnings are.
		{"first type error only", "backend = \"nope\"\nzzz = 1\nctx_len = \"big\"\n[supervisor]\ninitial_backoff = 500\nmax_restarts = \"x\"\n",
			[]want{
				{3, "ctx_len", "must be an integer, not a string", "", false},
				{2, "zzz", "unknown key", "", true},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Parse("f.toml", []byte(tc.doc))
			checkProblems(t, "f.toml", probs, tc.want)
		})
	}
}

// Syntax errors: the first one, with its line and, where one can be told, key.
func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want want
	}{
		{"missing value", "backend = \"llamacpp\"\nmodel_id =\n", want{2, "model_id", "unexpected character", "double quotes", false}},
		{"unterminated string", "[supervisor]\n\nmax_backoff = \"10s\n", want{3, "supervisor.max_backoff", "", "", false}},
		{"duplicate key", "backend = \"a\"\nbackend = \"b\"\n", want{2, "backend", "already defined", "keep only one", false}},
		{"duplicate table", "[supervisor]\n[notifications]\n[supervisor]\n", want{3, "supervisor", "already exists", "keep only one", false}},
		{"huge int", "# c\nctx_len = 99999999999999999999\n", want{2, "ctx_len", "too large", "smaller number", false}},
		{"huge float", "[supervisor]\nmax_restarts = 1e999\n", want{2, "supervisor.max_restarts", "out of range", "smaller number", false}},
		{"garbage", "\x00\x01\x02", want{1, "", "", "", false}},
		{"json", "{\"backend\": \"llamacpp\"}", want{1, "", "", "", false}},
		{"raw control char", "backend = \"llama\x07cpp\"\n", want{1, "backend", "control characters", "", false}},
		{"bad header", "[supervisor\nmax_restarts = 1\n", want{1, "", "", "", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Parse("f.toml", []byte(tc.doc))
			checkProblems(t, "f.toml", probs, []want{tc.want})
		})
	}
}

func TestByteOrderMark(t *testing.T) {
	s, probs := Parse("f.toml", []byte("\ufeffbackend = \"ollama\"\nctx_len = -1\n"))
	checkProblems(t, "f.toml", probs, []want{{2, "ctx_len", "out of range", "", false}})
	if s.Backend != BackendOllama {
		t.Fatalf("backend = %q", s.Backend)
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "/h/settings.toml", Line: 7, Key: "supervisor.max_backoff", Msg: "bad", Fix: "do this"},
			"/h/settings.toml:7: supervisor.max_backoff: bad; do this"},
		{Problem{File: "s.toml", Key: "ctx_len", Msg: "bad", Fix: "fix"}, "s.toml: ctx_len: bad; fix"},
		{Problem{File: "s.toml", Line: 3, Msg: "syntax", Fix: "fix"}, "s.toml:3: syntax; fix"},
		{Problem{File: "s.toml", Msg: "settings file not found", Fix: "check"}, "s.toml: settings file not found; check"},
		{Problem{File: "s.toml", Line: 1, Key: "k", Msg: "m", Warning: true}, "s.toml:1: k: m"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		if got := tc.p.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestHasErrors(t *testing.T) {
	w := Problem{Warning: true}
	e := Problem{}
	for _, tc := range []struct {
		ps   []Problem
		want bool
	}{{nil, false}, {[]Problem{w}, false}, {[]Problem{w, e}, true}, {[]Problem{e}, true}} {
		if got := HasErrors(tc.ps); got != tc.want {
			t.Errorf("HasErrors(%v) = %v", tc.ps, got)
		}
	}
}

// Values are kept for the settings even when another key has an error, and
// a file with only warnings gives the settings it says.
func TestParseKeepsValues(t *testing.T) {
	s, probs := Parse("f.toml", []byte("backend = \"llamacpp\"\nmodel_id = \"m\"\ninference_base_url = \"http://0.0.0.0:9000/v1\"\nllama_server_args = []\nfuture = 1\n"))
	if HasErrors(probs) || len(probs) != 2 {
		t.Fatalf("problems: %v", probs)
	}
	if s.InferenceBaseURL != "http://0.0.0.0:9000/v1" || s.ModelID != "m" || s.LlamaServerArgs != nil {
		t.Fatalf("settings = %+v", s)
	}
}

func TestKeyOnLine(t *testing.T) {
	doc := []byte("a = 1\n[supervisor] # c\nmax = \n[[x.y]]\n\"q\" = 1\nz.w=\n")
	for line, want := range map[int]string{0: "", 1: "a", 2: "supervisor", 3: "supervisor.max", 4: "x.y", 5: "", 6: "x.y.z.w", 7: "", 99: ""} {
		if got := keyOnLine(doc, line); got != want {
			t.Errorf("keyOnLine(%d) = %q, want %q", line, got, want)
		}
	}
}

// Every settings key, written where it does not belong, says where it
// does: at the top level, under [supervisor], [notifications] or [power].
func TestMisplacedKeys(t *testing.T) {
	tables := []string{"", "supervisor", "notifications", "power"}
	n := 0
	for key, example := range examples {
		home, name, ok := strings.Cut(key, ".")
		if !ok {
			home, name = "", key
		}
		for _, table := range tables {
			if table == home {
				continue
			}
			doc := name + " = " + example + "\n"
			wantKey, wantMsg := name, name+" belongs under ["+home+"]; it is ignored at the top level"
			if table != "" {
				doc = "[" + table + "]\n" + doc
				wantKey = table + "." + name
				wantMsg = name + " belongs under [" + home + "], not [" + table + "]"
				if home == "" {
					wantMsg = name + " belongs at the top level, not under [" + table + "]"
				}
			}
			_, probs := Parse("f.toml", []byte(doc))
			checkProblems(t, "f.toml", probs, []want{{strings.Count(doc, "\n"), wantKey, wantMsg, "", true}})
			n++
		}
	}
	if n < 2*len(examples) {
		t.Fatalf("only %d cases", n)
	}
}

func TestPowerTable(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
		msg  string
	}{
		{"", true, ""},
		{"[power]\nkeep_awake_while_generating = false\n", false, ""},
		{"[power]\nkeep_awake_while_generating = \"no\"\n", true, "must be true or false"},
	} {
		s, problems := Parse("settings.toml", []byte(tc.body))
		if tc.msg == "" {
			if HasErrors(problems) || s.Power.KeepAwakeWhileGenerating != tc.want {
				t.Errorf("%q: %+v, %v", tc.body, s.Power, problems)
			}
			continue
		}
		if !HasErrors(problems) || !strings.Contains(problems[0].String(), tc.msg) || !strings.Contains(problems[0].String(), "power.keep_awake_while_generating") {
			t.Errorf("%q: problems %v, want one saying %q", tc.body, problems, tc.msg)
		}
	}
}
