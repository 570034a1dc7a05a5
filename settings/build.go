package settings

import (
	"os"
	"strconv"
	"strings"

	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

// decide is Gate plus the endpoint: a server that may be spawned must also
// have a host and port to be told. Validated llamacpp settings always have
// one; settings built by hand may not.
func decide(s Settings, modelsDir string, fsys FS) Decision {
	d := Gate(s, modelsDir, fsys)
	if !d.Spawn {
		return d
	}
	if _, _, err := Endpoint(s); err != nil {
		return Decision{Reason: "inference_base_url " + err.Error()}
	}
	return d
}

// BuildConfig turns validated settings into the supervisor's plain Config
// (docs/supervision.md). Gate reasons name the file the settings came from
// (s.File, set by Load), else p.ConfigFile. The child is run as
//
//	<binary> -m <model path> --host <host> --port <port> -c <ctx_len> [--sleep-idle-seconds S] [--metrics] <llama_server_args...>
//
// or, in router mode,
//
//	<binary> --models-dir <models_dir> --models-max <max_loaded> --host <host> --port <port> -c <ctx_len> [--sleep-idle-seconds S] [--metrics] <llama_server_args...>
//
// with the agent's environment (Env nil): the explicit flags win over any
// LLAMA_ARG_* variables the user has set. --metrics is there when the
// binary's --help lists it and llama_server_args do not set it: the live
// view reads the server's tokens per second there. When the gate refuses,
// Command is nil and Refusal says why; Recheck re-runs the gate before every respawn,
// since the model file or the binary may have gone meanwhile.
func BuildConfig(s Settings, p Paths) supervisor.Config {
	cfg, _ := Build(s, p)
	return cfg
}

// Build is BuildConfig that also returns the gate's decision, whose Settle
// says when a model file still being written should be judged again.
func Build(s Settings, p Paths) (supervisor.Config, Decision) {
	if s.File == "" {
		s.File = p.ConfigFile
	}
	cfg := supervisor.Config{
		Policy: s.Supervisor.Policy(),
		Model:  s.ModelID,
	}
	if p.StateDir != "" {
		cfg.LogPath = p.ServerLog()
	}
	host, port, err := Endpoint(s)
	if err == nil {
		cfg.Port, cfg.ProbeHost = port, ProbeHost(host)
		if s.Backend == BackendLlamaCpp && !IsLoopback(host) {
			cfg.Warning = nonLoopbackWarning(host)
		}
	}
	d := decide(s, p.ModelsDir, OSFS{})
	if !d.Spawn {
		cfg.Refusal = d.Reason
	} else {
		var args []string
		if d.Router {
			args = []string{"--models-dir", ModelsDir(s, p.ModelsDir), "--models-max", strconv.Itoa(s.Models.MaxLoaded)}
		} else {
			args = []string{"-m", d.ModelPath}
		}
		args = append(args,
			"--host", host,
			"--port", strconv.Itoa(port),
			"-c", strconv.Itoa(s.CtxLen),
		)
		args = append(args, sleepArgs(s, d, &cfg)...)
		if wantsMetrics(d.Binary, s.LlamaServerArgs) {
			args = append(args, "--metrics")
		}
		cfg.Command = &supervisor.Command{Path: d.Binary, Args: append(args, s.LlamaServerArgs...)}
		cfg.Router, cfg.Autoload = d.Router, d.Autoload
		cfg.APIKey = apiKey(s.LlamaServerArgs, os.Getenv)
	}
	cfg.LiveView = true
	modelsDir := p.ModelsDir
	cfg.Recheck = func() string {
		if d := decide(s, modelsDir, OSFS{}); !d.Spawn {
			return d.Reason
		}
		return ""
	}
	return cfg, d
}

// wantsMetrics reports whether --metrics should be added: the binary knows
// it (its --help, read once per build: BinaryCapabilities) and the user's
// arguments do not already say it.
func wantsMetrics(binary string, userArgs []string) bool {
	for _, a := range userArgs {
		if a == "--metrics" || strings.HasPrefix(a, "--metrics=") {
			return false
		}
	}
	// An unreadable help means no --metrics: the live view does without.
	return BinaryCapabilities(binary).Metrics
}

// apiKey is the key the server will want from the live view's reads: the
// --api-key of llama_server_args (the last one wins, as in llama-server),
// else LLAMA_API_KEY of the environment the server inherits.
func apiKey(userArgs []string, getenv func(string) string) string {
	key := ""
	for i, a := range userArgs {
		switch {
		case a == "--api-key" && i+1 < len(userArgs):
			key = userArgs[i+1]
		case strings.HasPrefix(a, "--api-key="):
			key = strings.TrimPrefix(a, "--api-key=")
		}
	}
	if key == "" {
		key = getenv("LLAMA_API_KEY")
	}
	return key
}
