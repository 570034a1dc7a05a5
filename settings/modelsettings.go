package settings

import (
	"slices"
	"time"
)

// The model modes of [models] mode.
const (
	// ModeSingle: llama-server serves one model, model_id (-m). Every
	// build has it, and clients may send any model name: the default.
	ModeSingle = "single"
	// ModeRouter: llama-server's router over models_dir loads and unloads
	// models on request (builds whose --help lists --models-dir).
	ModeRouter = "router"
)

// ModelModes lists the valid modes.
var ModelModes = []string{ModeSingle, ModeRouter}

// Defaults of the [models] table.
const (
	DefaultMaxLoaded = 1
	MaxMaxLoaded     = 1000 // a typo guard: nobody holds a thousand models in memory
)

// ModelsSettings is the [models] table.
type ModelsSettings struct {
	Mode       string   `toml:"mode"`        // "single" | "router"
	MaxLoaded  int      `toml:"max_loaded"`  // router: --models-max (0 = no limit)
	SleepAfter Duration `toml:"sleep_after"` // --sleep-idle-seconds; 0 = never
}

func defaultModels() ModelsSettings {
	return ModelsSettings{Mode: ModeSingle, MaxLoaded: DefaultMaxLoaded}
}

// SleepSeconds is sleep_after as llama-server's --sleep-idle-seconds takes
// it: whole seconds, rounded up (0 = never sleep).
func (m ModelsSettings) SleepSeconds() int {
	if m.SleepAfter <= 0 {
		return 0
	}
	return int((time.Duration(m.SleepAfter) + time.Second - 1) / time.Second)
}

// decodeModels reads the [models] table.
func (c *checker) decodeModels(t map[string]any, m *ModelsSettings) {
	for k, v := range t {
		key := "models." + k
		c.present[key] = true
		switch k {
		case "mode":
			c.strInto(key, v, &m.Mode)
		case "max_loaded":
			c.intInto(key, v, &m.MaxLoaded)
		case "sleep_after":
			c.duration(key, v, &m.SleepAfter)
		default:
			c.unknownKey("models", k, v)
		}
	}
}

// validateModels checks the [models] table's values.
func (c *checker) validateModels(m ModelsSettings) {
	if !slices.Contains(ModelModes, m.Mode) {
		c.errorf("models.mode", `use "single" (one model, every llama-server) or "router" (llama-server's router over models_dir)`, "%q is not a mode", m.Mode)
	}
	switch {
	case m.SleepAfter < 0:
		c.errorf("models.sleep_after", `use "0s" (never) or a positive duration, e.g. sleep_after = "10m"`, "%s is negative", m.SleepAfter)
	case time.Duration(m.SleepAfter) > MaxDuration:
		c.errorf("models.sleep_after", `use at most "24h"`, "%s is longer than 24h", m.SleepAfter)
	}
}

// modelsFlagFix says what to set instead of a router or sleep flag in
// llama_server_args.
func modelsFlagFix(flag string) (string, bool) {
	switch flag {
	case "--models-dir":
		return "remove it and set models_dir (and mode = \"router\" under [models]) instead", true
	case "--models-max":
		return "remove it and set max_loaded under [models] instead", true
	case "--sleep-idle-seconds":
		return "remove it and set sleep_after under [models] instead", true
	}
	return "", false
}
