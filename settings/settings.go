package settings

import (
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"strings"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

// Backend names the inference backend the user runs. Only BackendLlamaCpp is
// ever spawned; the others are kept so that a file written for the seed's
// daemon loads unchanged.
type Backend string

// The backends of the seed's settings file.
const (
	// BackendAuto is the default: the desktop app picks a backend itself and
	// ocm-tray spawns nothing (supervision is opt-in).
	BackendAuto Backend = "auto"
	// BackendOllama is never spawned: Ollama has its own service manager and
	// a second supervisor would fight its restarts.
	BackendOllama Backend = "ollama"
	// BackendLlamaCpp asks ocm-tray to run and supervise llama-server.
	BackendLlamaCpp Backend = "llamacpp"
)

// Backends lists the valid backends, in the order error messages name them.
var Backends = []Backend{BackendAuto, BackendOllama, BackendLlamaCpp}

// Valid reports whether b is one of Backends.
func (b Backend) Valid() bool {
	for _, v := range Backends {
		if b == v {
			return true
		}
	}
	return false
}

// DefaultBaseURL is where llama-server listens unless inference_base_url says
// otherwise; it is also llama-server's own default host and port.
const DefaultBaseURL = "http://127.0.0.1:8080"

// DefaultCtxLen is passed as -c when ctx_len is not set (the seed's constant).
const DefaultCtxLen = 4096

// Limits of docs/settings.md.
const (
	MaxCtxLen      = 16777216 // 16 Mi tokens: far beyond any model, small enough to be a typo guard
	MaxMaxRestarts = 100
	MaxDuration    = 24 * time.Hour
)

// Settings is the content of settings.toml. The top-level keys are those of
// the earlier Rust/Tauri daemon, unchanged, so its files load as they are.
//
// Loading does not use the toml tags: parse.go reads each key by name (it
// must report every problem with its line, which decoding into tags cannot),
// so a new key needs its case there and in its rules. The tags serve the
// tests, which write settings out as TOML and read them back.
type Settings struct {
	Backend           Backend  `toml:"backend"`
	ModelID           string   `toml:"model_id,omitempty"`
	InferenceBaseURL  string   `toml:"inference_base_url"`
	LlamaServerBinary string   `toml:"llama_server_binary,omitempty"` // "" = never spawn
	ModelsDir         string   `toml:"models_dir,omitempty"`          // "" = the XDG default (Paths.ModelsDir)
	CtxLen            int      `toml:"ctx_len"`                       // 0 = the model's own
	LlamaServerArgs   []string `toml:"llama_server_args,omitempty"`   // appended verbatim, never through a shell

	Supervisor    SupervisorSettings   `toml:"supervisor"`
	Notifications NotificationSettings `toml:"notifications"`
	Models        ModelsSettings       `toml:"models"`
	Power         PowerSettings        `toml:"power"`

	// File is the settings file these settings came from ("" for Defaults).
	// It is not a key: the gate names it in its reasons ("llama_server_binary
	// is not set in FILE") so the person knows which file to edit.
	File string `toml:"-"`
}

// SupervisorSettings is the [supervisor] table: the restart policy.
type SupervisorSettings struct {
	MaxRestarts         int      `toml:"max_restarts"`
	InitialBackoff      Duration `toml:"initial_backoff"`
	MaxBackoff          Duration `toml:"max_backoff"`
	StabilityWindow     Duration `toml:"stability_window"`
	HealthCheckInterval Duration `toml:"health_check_interval"`
	HealthCheckTimeout  Duration `toml:"health_check_timeout"`
	StartupTimeout      Duration `toml:"startup_timeout"`
	StopTimeout         Duration `toml:"stop_timeout"`
}

// NotificationSettings is the [notifications] table.
type NotificationSettings struct {
	Level string `toml:"level"` // "all" | "failures" | "off"
}

// PowerSettings is the [power] table.
type PowerSettings struct {
	// KeepAwakeWhileGenerating holds a logind "idle" inhibitor lock while a
	// slot is processing, so the session does not idle into suspend in
	// the middle of a generation.
	KeepAwakeWhileGenerating bool `toml:"keep_awake_while_generating"`
}

// Policy converts the table to the supervisor's plain Policy.
func (s SupervisorSettings) Policy() supervisor.Policy {
	return supervisor.Policy{
		MaxRestarts:         s.MaxRestarts,
		InitialBackoff:      time.Duration(s.InitialBackoff),
		MaxBackoff:          time.Duration(s.MaxBackoff),
		StabilityWindow:     time.Duration(s.StabilityWindow),
		HealthCheckInterval: time.Duration(s.HealthCheckInterval),
		HealthCheckTimeout:  time.Duration(s.HealthCheckTimeout),
		StartupTimeout:      time.Duration(s.StartupTimeout),
		StopTimeout:         time.Duration(s.StopTimeout),
	}
}

func supervisorSettingsFrom(p supervisor.Policy) SupervisorSettings {
	return SupervisorSettings{
		MaxRestarts:         p.MaxRestarts,
		InitialBackoff:      Duration(p.InitialBackoff),
		MaxBackoff:          Duration(p.MaxBackoff),
		StabilityWindow:     Duration(p.StabilityWindow),
		HealthCheckInterval: Duration(p.HealthCheckInterval),
		HealthCheckTimeout:  Duration(p.HealthCheckTimeout),
		StartupTimeout:      Duration(p.StartupTimeout),
		StopTimeout:         Duration(p.StopTimeout),
	}
}

// Defaults returns the settings of a missing or empty file (docs/settings.md).
// Backend auto means nothing is spawned until the user opts in.
func Defaults() Settings {
	return Settings{
		Backend:          BackendAuto,
		InferenceBaseURL: DefaultBaseURL,
		CtxLen:           DefaultCtxLen,
		Supervisor:       supervisorSettingsFrom(supervisor.DefaultPolicy()),
		Notifications:    NotificationSettings{Level: string(status.NotifyAll)},
		Models:           defaultModels(),
		Power:            PowerSettings{KeepAwakeWhileGenerating: true},
	}
}

// Duration is a time.Duration written in TOML as a string ("500ms", "2m").
// It exists because go-toml decodes a bare integer into a time.Duration as
// nanoseconds: `initial_backoff = 500` would silently mean 500 ns. Parse
// rejects numbers before they get here.
type Duration time.Duration

// String formats d the way a person would write it: "500ms", "10s", "2m",
// "1h30m" (time.Duration.String would give "2m0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText writes d as a duration string, so a marshalled Settings
// round-trips through Parse.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// UnmarshalText reads a duration string such as "500ms" or "2m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration: %w", b, err)
	}
	*d = Duration(v)
	return nil
}
