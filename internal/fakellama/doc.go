// Package fakellama is a fake llama.cpp llama-server for tests and
// benchmarks. It behaves like the real one as docs/llama-server.md records
// it (llama.cpp build 4748), the ugly parts included, so the supervisor is
// tested against what it will meet:
//
//   - Flags -m/--model, --host (default 127.0.0.1), --port (default 8080;
//     0 = any free port), -c/--ctx-size, --api-key, -a/--alias, and the
//     harmless value flags -t/--threads, -ngl/--gpu-layers/--n-gpu-layers,
//     -np/--parallel; also "--flag=value". Anything else:
//     "error: invalid argument: X" on stderr, exit 1 at once. Without -m the
//     real default model path models/7B/ggml-model-f16.gguf is used (and
//     fails to load). The environment variables LLAMA_ARG_HOST,
//     LLAMA_ARG_PORT, LLAMA_ARG_MODEL, LLAMA_ARG_CTX_SIZE, LLAMA_ARG_ALIAS and
//     LLAMA_API_KEY are honoured; explicit flags win.
//   - All logging goes to stderr; stdout stays empty. Markers, in order:
//     "main: HTTP server is listening, hostname: H, port: P, http threads: N"
//     (port bound, model loading), "main: model loaded", then
//     "main: server is listening on http://H:P - starting the main loop",
//     written right after GET /health turns 200.
//   - The port is bound with SO_REUSEPORT (and SO_REUSEADDR), as the real
//     server's HTTP library does: a second fake on the same port does not
//     fail, the kernel splits connections between them. A port held by an
//     ordinary listener gives "main: couldn't bind HTTP server socket,
//     hostname: H, port: P" and exit 1.
//   - While loading, every path (also with --api-key and no key) answers
//     503 {"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}.
//     Once loaded, GET /health answers 200 {"status":"ok"}; /health,
//     /v1/health, /models and /v1/models never need the API key; other
//     endpoints answer 401 without "Authorization: Bearer KEY" when --api-key
//     is set. /props, /completion(s), /v1/completions and
//     /v1/chat/completions give small canned answers; anything else 404.
//   - The server has -np slots (default 1; 4 for a current build). A
//     completion keeps a slot processing for FAKE_LLAMA_GENERATE (or until
//     its client goes away; with every slot busy it waits for one). GET
//     /slots lists them with "is_processing" (501 with --no-slots); GET
//     /metrics is Prometheus text with llamacpp:predicted_tokens_seconds
//     over the completions finished since the last read (FAKE_LLAMA_TPS
//     tokens per second of processing), and 501 "Start it with
//     `--metrics`" unless started with --metrics. /props has total_slots,
//     is_sleeping, endpoint_slots and endpoint_metrics; GET / is a small
//     HTML page (the chat web UI).
//   - A model file that is missing, empty, does not start with "GGUF" or
//     is of the architecture "nosucharch" is found out at the end of the
//     load window: the port answered 503 until then; stderr gets
//     "gguf_init_from_file_impl: invalid magic characters" (or "failed to
//     open GGUF file", or "unknown model architecture: 'nosucharch'") and
//     "failed to load model" lines, then "terminate called without an
//     active exception", and the process dies by a real SIGABRT (wait
//     status: signal 6). WriteModel writes a file that passes,
//     WriteBrokenModel one of the unknown architecture (which the
//     spawn-gate lets through).
//   - SIGTERM or SIGINT during start-up or load: handlers are "not installed
//     yet", so the process dies of that very signal (signal 15 or 2). After
//     the model is loaded: "cleaning up before exit..." then, a couple of
//     milliseconds later, "terminate called without an active exception" and
//     death by SIGABRT. A second signal during that shutdown: "Received
//     second interrupt, terminating immediately.", exit 1.
//
// With FAKE_LLAMA_ERA=2026 it plays a current build instead (measured on
// a September 2026 build): every log line carries the elapsed time and a level letter
// ("0.00.037.007 I srv  llama_server: model loaded"), the ready lines are
// "srv  llama_server: model loaded" and "srv  llama_server: listening on
// http://H:P" (there is no "starting the main loop"), SIGTERM after load
// exits 0 after "cleaning up before exit...", and a bad model or a taken
// port exits 1 after the current build's lines ("gguf_init_from_reader:
// invalid magic characters: 'this', expected 'GGUF'", "srv         start:
// couldn't bind HTTP server socket, ...", "exiting due to ...").
//
// To keep core files out of test directories, the fake sets its core-size
// limit to 0 before it aborts; the wait status is still signal 6.
//
// # Knobs
//
// All optional, read from the environment (so a supervisor under test passes
// them to its child without special flags). Durations use Go syntax ("300ms");
// booleans accept strconv.ParseBool forms ("1", "true"). A malformed knob
// makes the fake print the problem and exit 2.
//
//	FAKE_LLAMA_LOAD=50ms             length of the "Loading model" 503 window (default 50ms)
//	FAKE_LLAMA_LOAD_UNTIL=PATH       the load window lasts until PATH exists instead (a test ends it when it is ready to)
//	FAKE_LLAMA_START_DELAY=5ms       time before the port is bound: connections are refused meanwhile (default 5ms)
//	FAKE_LLAMA_CRASH_AFTER=2s        after ready, crash (FAKE_LLAMA_CRASH_MODE decides how)
//	FAKE_LLAMA_CRASH_MODE=abort      exit1 | abort (SIGABRT, default) | segv (SIGSEGV) | kill (SIGKILL, no last words: the OOM killer)
//	FAKE_LLAMA_HANG_AFTER=1s         after ready, stop answering HTTP: connections are accepted, requests never answered
//	FAKE_LLAMA_UNHEALTHY_AFTER=1s    after ready, GET /health answers FAKE_LLAMA_UNHEALTHY_STATUS
//	FAKE_LLAMA_UNHEALTHY_STATUS=500  the status code of an unhealthy /health (default 500)
//	FAKE_LLAMA_IGNORE_SIGTERM=1      ignore SIGTERM and SIGINT entirely (only SIGKILL stops it)
//	FAKE_LLAMA_CLEAN_EXIT=1          exit 0 on SIGTERM/SIGINT after load instead of SIGABRT (newer llama.cpp)
//	FAKE_LLAMA_SHUTDOWN_DELAY=2ms    time from the first signal to the abort/exit; a second signal inside it gives exit 1 (default 2ms)
//	FAKE_LLAMA_LOSE_LOG=1            leave out the model-load error lines before an abort (the real server's async log loses them)
//	FAKE_LLAMA_STDERR_FLOOD=N        write N extra log lines (~120 bytes each) to stderr during load, blocking if nobody drains the pipe
//	FAKE_LLAMA_PIDFILE=PATH          write the fake's pid (decimal + newline) to PATH once the port is bound
//	FAKE_LLAMA_NO_ROUTER=1           a build without router mode: --help omits the --models-* flags and they are invalid
//	FAKE_LLAMA_NO_SLEEP=1            a build without sleeping: --help omits --sleep-idle-seconds and it is invalid
//	FAKE_LLAMA_ERA=2025              2025 (build 4748, default) | 2026 (a current build; implies FAKE_LLAMA_CLEAN_EXIT)
//	FAKE_LLAMA_LOAD_ERROR=arch       loading a good file fails anyway: arch (unknown model architecture) | oom (cannot allocate the weights);
//	                                 a file written by WriteFailingModel fails so without the knob
//	FAKE_LLAMA_GENERATE=0s           how long a completion keeps its slot processing (default 0: it answers at once)
//	FAKE_LLAMA_TPS=38.2              tokens per second a processing slot generates, for /metrics (default 38.2)
//	FAKE_LLAMA_LOG_COLORS=1          colour the current build's log prefixes with terminal escapes, as a build that thinks stderr is a terminal does
//
// # Current builds: --help, sleeping, router mode
//
// --help prints a usage text (stdout, exit 0) that lists --models-dir,
// --models-max and --sleep-idle-seconds unless the knobs above take them
// away. --sleep-idle-seconds N: after N seconds without a generation
// request the server logs "handle_sleep: server is entering sleeping
// state" and /props says "is_sleeping":true; /health, /props and /slots
// do not wake it, the next completion does ("exiting sleeping state").
//
// --models-dir DIR without -m runs the router (router.go): /health is 200
// at once, /props has "role":"router", GET /models lists DIR's models with
// status.value unloaded, loading, loaded or sleeping (and failed, exit_code
// after a failed load), POST /models/load and /models/unload load and
// unload, --models-max N unloads the model used longest ago, and a
// generation request is forwarded to the model it names, loading it first.
// Each model runs in a model server of its own (this program with -m, on a
// port of its own, in the router's process group, its lines prefixed
// "[port]" on the router's stderr); it exits when asked on its stdin, and
// when its stdin ends because the router died. SIGTERM stops the model
// servers, then the router exits 0. Its log lines are a current build's.
//
// # Using it from tests
//
// Main is the whole program. Package fakellamatest starts it for tests:
// the test binary re-executed as the fake (HelperCommand), or a separate
// llama-server executable built once (Binary).
package fakellama
