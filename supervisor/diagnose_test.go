package supervisor

import (
	"strings"
	"testing"
)

// The stderr lines below are the real llama-server's, as measured on the
// early-2025 build (c392e50) and on a current one, unless a case says
// otherwise. Current builds put an elapsed time, a level letter and a
// component before each line; those prefixes must never reach last_error.

// earlyBadModel is the early-2025 build on a file that is no GGUF.
var earlyBadModel = []string{
	"srv    load_model: loading model '/m/x.gguf'",
	"gguf_init_from_file_impl: invalid magic characters",
	"llama_model_load: error loading model: llama_model_loader: failed to load model from /m/x.gguf",
	"llama_model_load_from_file_impl: failed to load model",
	"common_init_from_params: failed to load model '/m/x.gguf'",
	"srv    load_model: failed to load model, '/m/x.gguf'",
	"main: exiting due to model loading error",
	"terminate called without an active exception",
}

// current prefixes lines the way a current build does.
func current(lines ...string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "0.00.052." + []string{"114", "130", "201", "230", "861", "900", "950"}[i%7] + " " + l
	}
	return out
}

var currentNotGGUF = current(
	"I srv    load_model: loading model '/m/x.gguf'",
	"E gguf_init_from_reader: invalid magic characters: 'this', expected 'GGUF'",
	"E llama_model_load: error loading model: llama_model_loader: failed to load model from /m/x.gguf",
	"E srv    load_model: failed to load model, '/m/x.gguf'",
	"I srv    operator(): operator(): cleaning up before exit...",
	"E srv  llama_server: exiting due to model loading error",
)

func TestDiagnoseExit(t *testing.T) {
	tests := []struct {
		name      string
		how       string
		tail      []string
		lastError string
		hint      string
		permanent bool
	}{
		// Early-2025 builds.
		{"early: unknown argument", "exited with status 1",
			[]string{"error: invalid argument: --bogus"},
			"exited with status 1: error: invalid argument: --bogus", hintUnknownArg("--bogus"), true},
		{"early: not a GGUF, the cause starts the cascade", "killed by SIGABRT", earlyBadModel,
			"killed by SIGABRT: invalid magic characters", hintNotGGUF, true},
		{"early: not a GGUF, the async log lost the cause", "killed by SIGABRT",
			[]string{"main: loading model", "srv    load_model: loading model '/m/x.gguf'", "terminate called without an active exception"},
			"killed by SIGABRT: loading model '/m/x.gguf'", "", false},
		{"early: the run ends at a line that is no error", "killed by SIGABRT", append([]string{"a", "b"}, earlyBadModel[3:]...),
			"killed by SIGABRT: failed to load model", "", false},
		{"early: port taken", "exited with status 1",
			[]string{"build: 4748 (c392e50) with cc for x86_64-linux-gnu", "main: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8080"},
			"exited with status 1: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8080", HintPortTaken(8080), false},
		{"early: abort on SIGTERM says only terminate", "killed by SIGABRT",
			[]string{"main: model loaded", "main: server is listening on http://127.0.0.1:8080 - starting the main loop",
				"srv    operator(): operator(): cleaning up before exit...", "terminate called without an active exception"},
			"killed by SIGABRT: terminate called without an active exception", "", false},
		// Not measured here: the early builds' wording of an unknown
		// architecture, as their model loader phrases it.
		{"early: unknown architecture", "killed by SIGABRT",
			[]string{"llama_model_load: error loading model: error loading model architecture: unknown model architecture: 'nosucharch'",
				"llama_model_load_from_file_impl: failed to load model", "main: exiting due to model loading error",
				"terminate called without an active exception"},
			"killed by SIGABRT: error loading model: error loading model architecture: unknown model architecture: 'nosucharch'",
			hintUnknownArch("'nosucharch'"), true},

		// Current builds.
		{"current: unknown argument", "exited with status 1",
			[]string{"error: invalid argument: --bogus"},
			"exited with status 1: error: invalid argument: --bogus", hintUnknownArg("--bogus"), true},
		{"current: not a GGUF", "exited with status 1", currentNotGGUF,
			"exited with status 1: invalid magic characters: 'this', expected 'GGUF'", hintNotGGUF, true},
		{"current: not a GGUF, no timestamps", "exited with status 1",
			[]string{"E gguf_init_from_reader: invalid magic characters: 'this', expected 'GGUF'",
				"E srv    load_model: failed to load model, '/m/x.gguf'",
				"I srv    operator(): operator(): cleaning up before exit...",
				"E srv  llama_server: exiting due to model loading error"},
			"exited with status 1: invalid magic characters: 'this', expected 'GGUF'", hintNotGGUF, true},
		{"current: missing file", "exited with status 1", current(
			"E gguf_init_from_file: failed to open GGUF file '/m/x.gguf' (No such file or directory)",
			"E llama_model_load: error loading model: llama_model_loader: failed to load model from /m/x.gguf",
			"E srv    load_model: failed to load model, '/m/x.gguf'",
			"I srv    operator(): operator(): cleaning up before exit...",
			"E srv  llama_server: exiting due to model loading error"),
			"exited with status 1: failed to open GGUF file '/m/x.gguf' (No such file or directory)", hintOpenModel, false},
		{"current: unknown architecture", "exited with status 1", current(
			"E llama_model_load: error loading model: unknown model architecture: 'nosucharch'",
			"E srv    load_model: failed to load model, '/m/x.gguf'",
			"I srv    operator(): operator(): cleaning up before exit...",
			"E srv  llama_server: exiting due to model loading error"),
			"exited with status 1: error loading model: unknown model architecture: 'nosucharch'", hintUnknownArch("'nosucharch'"), true},
		{"current: port taken", "exited with status 1", current(
			"E srv         start: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 33341",
			"E srv  llama_server: exiting due to HTTP server error"),
			"exited with status 1: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 33341", HintPortTaken(33341), false},
		{"current: clean exit says nothing", "exited with status 0", current(
			"I srv  llama_server: model loaded",
			"I srv  llama_server: listening on http://127.0.0.1:33341",
			"I srv    operator(): operator(): cleaning up before exit..."),
			"exited with status 0", "", false},
		{"current: colours are no text", "exited with status 1",
			[]string{"\x1b[34m0.00.052.114\x1b[0m \x1b[31mE \x1b[0mgguf_init_from_reader: invalid magic characters: 'this', expected 'GGUF'\x1b[0m"},
			"exited with status 1: invalid magic characters: 'this', expected 'GGUF'", hintNotGGUF, true},
		// A router relays its model servers' lines prefixed by their port:
		// a model's failure is not the router's (parseModels gives it to
		// that model), so it neither explains the router's exit nor ends
		// the router's retries.
		{"current: a router's model server, prefixed by its port", "exited with status 1",
			[]string{"[40123] 0.00.052.114 E llama_model_load: error loading model: unknown model architecture: 'nosucharch'"},
			"exited with status 1", "", false},

		// Either era.
		{"SIGKILL without an error line: the OOM killer", "killed by SIGKILL", current(
			"I srv  llama_server: model loaded",
			"I srv  llama_server: listening on http://127.0.0.1:33341",
			"I slot launch_slot_: id  0 | task 0 | processing task"),
			"killed by SIGKILL: id  0 | task 0 | processing task", hintOOMKiller, false},
		{"SIGKILL with nothing logged", "killed by SIGKILL", nil, "killed by SIGKILL", hintOOMKiller, false},
		{"SIGKILL after an error line: no guess", "killed by SIGKILL",
			[]string{"main: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8080"},
			"killed by SIGKILL: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8080", HintPortTaken(8080), false},
		// Not measured here: out of memory on a GPU while loading, in the
		// words of a public llama.cpp bug report.
		{"out of memory while loading", "exited with status 1", []string{
			"llama_kv_cache_init:      CUDA0 KV buffer size =   379.23 MiB",
			"ggml_backend_cuda_buffer_type_alloc_buffer: allocating 279356.51 MiB on device 0: cudaMalloc failed: out of memory",
			"ggml_gallocr_reserve_n: failed to allocate CUDA0 buffer of size 292926534144",
			"llama_new_context_with_model: failed to allocate compute buffers"},
			"exited with status 1: allocating 279356.51 MiB on device 0: cudaMalloc failed: out of memory", hintOOM, false},
		{"a CUDA \"invalid argument\" is no command-line argument", "killed by SIGABRT",
			[]string{"CUDA error: invalid argument", "  current device: 0, in function ggml_cuda_op at ggml-cuda.cu:1"},
			"killed by SIGABRT: CUDA error: invalid argument", "", false},
		{"a current warning that mentions failure is no error", "exited with status 1", current(
			"W llama_model_loader: failed to mmap, falling back to read",
			"I srv    load_model: loading model '/m/x.gguf'"),
			"exited with status 1: loading model '/m/x.gguf'", "", false},
		{"an older error is not picked over later lines", "exited with status 1",
			[]string{"error: x", "1", "2", "3", "4", "5", "6", "7", "8", "last"},
			"exited with status 1: last", "", false},
		{"control characters never reach last_error", "exited with status 1",
			[]string{"bad\x07 line\x00 with\ttab and \u009b31mC1 CSI\x1b]0;title\x07 and an OSC \xff"},
			"exited with status 1: bad line with tab and C1 CSI and an OSC \uFFFD", "", false},
	}
	for _, tt := range tests {
		d := diagnoseExit(tt.how, tt.tail)
		if d.lastError != tt.lastError || d.hint != tt.hint || d.permanent != tt.permanent {
			t.Errorf("%s:\n got  %q\n      hint %q permanent %v\n want %q\n      hint %q permanent %v",
				tt.name, d.lastError, d.hint, d.permanent, tt.lastError, tt.hint, tt.permanent)
		}
		for _, r := range d.lastError + d.hint {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Errorf("%s: control character %U in %q", tt.name, r, d.lastError)
			}
		}
	}
}

func TestCleanLine(t *testing.T) {
	tests := []struct {
		raw, want string
		level     byte
	}{
		{"0.00.034.250 E srv  load_model: failed to load model", "failed to load model", 'E'},
		{"0.00.037.007 I srv  llama_server: model loaded", "model loaded", 'I'},
		{"0.00.037.030 I srv  llama_server: listening on http://127.0.0.1:33341", "listening on http://127.0.0.1:33341", 'I'},
		{"I srv    operator(): operator(): cleaning up before exit...", "cleaning up before exit...", 'I'},
		{"main: HTTP server is listening, hostname: 127.0.0.1, port: 8080, http threads: 3", "HTTP server is listening, hostname: 127.0.0.1, port: 8080, http threads: 3", 0},
		{"error: invalid argument: --bogus", "error: invalid argument: --bogus", 0},
		{"Received second interrupt, terminating immediately.", "Received second interrupt, terminating immediately.", 0},
		{"I am not a level letter", "I am not a level letter", 0},
		{"   ", "", 0},
	}
	for _, tt := range tests {
		got, level := cleanLine(tt.raw)
		if got != tt.want || level != tt.level {
			t.Errorf("cleanLine(%q) = %q, %q; want %q, %q", tt.raw, got, level, tt.want, tt.level)
		}
	}
}

func TestReadyLines(t *testing.T) {
	ready := []string{
		"main: server is listening on http://127.0.0.1:8080 - starting the main loop",
		"0.00.037.007 I srv  llama_server: model loaded",
		"0.00.037.030 I srv  llama_server: listening on http://127.0.0.1:33341",
	}
	notYet := []string{
		"main: HTTP server is listening, hostname: 127.0.0.1, port: 8080, http threads: 3",
		"main: model loaded", // early builds: before /health turns 200
		"0.00.005.000 I srv    load_model: loading model '/m/x.gguf'",
	}
	for _, l := range ready {
		if !isReadyLine(l) {
			t.Errorf("%q is a ready line", l)
		}
	}
	for _, l := range notYet {
		if isReadyLine(l) {
			t.Errorf("%q is no ready line", l)
		}
	}
	if strings.Contains(strings.Join(readyMarkers, ""), "\n") {
		t.Fatal("a marker spans lines")
	}
}

// A router that crashes after one of its models failed to load: the
// model's line is not the router's cause, and nothing says the router
// cannot be fixed by a restart.
func TestRouterCrashIsNotItsModelsFailure(t *testing.T) {
	tail := []string{
		"[41234] 0.00.020.000 E llama_model_load: error loading model: unknown model architecture: 'nosucharch'",
		"0.00.040.000 I srv    operator(): instance name=broken exited with status 1",
		"0.05.000.000 I srv  log_server_r: request: GET /health 127.0.0.1 200",
	}
	d := diagnoseExit("killed by SIGSEGV", tail)
	if d.permanent || strings.Contains(d.lastError, "architecture") || d.hint != "" {
		t.Fatalf("router crash diagnosed as its model's failure: %+v", d)
	}
	// The same line from the server itself is permanent.
	d = diagnoseExit("exited with status 1", []string{tail[0][len("[41234] "):]})
	if !d.permanent || !strings.Contains(d.lastError, "nosucharch") {
		t.Fatalf("the server's own unknown architecture: %+v", d)
	}
}
