package settings

import (
	"strconv"

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
//	<binary> -m <model path> --host <host> --port <port> -c <ctx_len> [--sleep-idle-seconds S] <llama_server_args...>
//
// or, in router mode,
//
//	<binary> --models-dir <models_dir> --models-max <max_loaded> --host <host> --port <port> -c <ctx_len> [--sleep-idle-seconds S] <llama_server_args...>
//
// with the agent's environment (Env nil): the explicit flags win over any
// LLAMA_ARG_* variables the user has set. When the gate refuses, Command is
// nil and Refusal says why; Recheck re-runs the gate before every respawn,
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
		cfg.Command = &supervisor.Command{Path: d.Binary, Args: append(args, s.LlamaServerArgs...)}
		cfg.Router, cfg.Autoload = d.Router, d.Autoload
	}
	modelsDir := p.ModelsDir
	cfg.Recheck = func() string {
		if d := decide(s, modelsDir, OSFS{}); !d.Spawn {
			return d.Reason
		}
		return ""
	}
	return cfg, d
}
