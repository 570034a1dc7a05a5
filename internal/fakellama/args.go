package fakellama

import (
	"fmt"
	"strconv"
	"strings"
)

// options are the llama-server flags the fake understands.
type options struct {
	model  string
	host   string
	port   int
	ctx    int
	apiKey string
	alias  string

	parallel int  // -np; 0: the build's default
	metrics  bool // --metrics: serve /metrics
	noSlots  bool // --no-slots: /slots answers 501

	help       bool
	modelsDir  string // router mode when set (and no -m)
	modelsMax  int    // router: models loaded at once, 0 = no limit
	sleepIdle  int    // --sleep-idle-seconds; 0 = never sleep
	noAutoload bool   // --no-models-autoload
	modelGiven bool   // -m or LLAMA_ARG_MODEL was given
}

// defaultModel is the real server's default for -m: it does not exist, so
// running without -m fails to load, as the real one does.
const defaultModel = "models/7B/ggml-model-f16.gguf"

// flagKind says what a recognised flag sets.
type flagKind int

const (
	flagModel flagKind = iota
	flagHost
	flagPort
	flagCtx
	flagAPIKey
	flagAlias
	flagIgnoredValue // accepted with its value, no effect (harmless extras)
	flagHelp
	flagModelsDir
	flagModelsMax
	flagSleepIdle
	flagAutoload
	flagNoAutoload
	flagParallel
	flagMetrics
	flagSlots
	flagNoSlots
)

// switches are the flags that take no value.
var switches = map[flagKind]bool{flagHelp: true, flagAutoload: true, flagNoAutoload: true,
	flagMetrics: true, flagSlots: true, flagNoSlots: true}

// routerFlags and sleepFlags exist only in builds that have router mode
// and sleeping (FAKE_LLAMA_NO_ROUTER, FAKE_LLAMA_NO_SLEEP take them away).
var (
	routerFlags = map[string]flagKind{
		"--models-dir": flagModelsDir, "--models-max": flagModelsMax,
		"--models-autoload": flagAutoload, "--no-models-autoload": flagNoAutoload,
	}
	sleepFlags = map[string]flagKind{"--sleep-idle-seconds": flagSleepIdle}
)

var flags = map[string]flagKind{
	"-m": flagModel, "--model": flagModel,
	"--host": flagHost,
	"--port": flagPort,
	"-c":     flagCtx, "--ctx-size": flagCtx,
	"--api-key": flagAPIKey,
	"-a":        flagAlias, "--alias": flagAlias,
	"-t": flagIgnoredValue, "--threads": flagIgnoredValue,
	"-ngl": flagIgnoredValue, "--gpu-layers": flagIgnoredValue, "--n-gpu-layers": flagIgnoredValue,
	"-np": flagParallel, "--parallel": flagParallel,
	"--metrics": flagMetrics,
	"--slots":   flagSlots, "--no-slots": flagNoSlots,
	"-h": flagHelp, "--help": flagHelp,
}

// envArgs are the environment variables the real server reads, applied
// before the command line so explicit flags win.
var envArgs = []struct {
	name string
	kind flagKind
}{
	{"LLAMA_ARG_MODEL", flagModel},
	{"LLAMA_ARG_HOST", flagHost},
	{"LLAMA_ARG_PORT", flagPort},
	{"LLAMA_ARG_CTX_SIZE", flagCtx},
	{"LLAMA_ARG_ALIAS", flagAlias},
	{"LLAMA_API_KEY", flagAPIKey},
}

// usageError is a command-line problem; its text is what the real server
// prints before exiting 1.
type usageError string

func (e usageError) Error() string { return string(e) }

// parseArgs reads argv (without argv[0]) and the environment the way
// llama-server does.
func parseArgs(args []string, getenv func(string) string, k knobs) (options, error) {
	o := options{model: defaultModel, host: "127.0.0.1", port: 8080, ctx: 4096, modelsMax: 4}
	for _, e := range envArgs {
		v := getenv(e.name)
		if v == "" {
			continue
		}
		if err := o.set(e.kind, v); err != nil {
			return o, usageError(fmt.Sprintf("error while handling environment variable %q: %v", e.name, err))
		}
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := arg, "", false
		if strings.HasPrefix(arg, "--") {
			if n, v, ok := strings.Cut(arg, "="); ok {
				name, value, hasValue = n, v, true
			}
		}
		kind, ok := flags[name]
		if !ok && !k.noRouter {
			kind, ok = routerFlags[name]
		}
		if !ok && !k.noSleep {
			kind, ok = sleepFlags[name]
		}
		if !ok {
			return o, usageError("error: invalid argument: " + arg)
		}
		if switches[kind] {
			if hasValue {
				return o, usageError("error: invalid argument: " + arg)
			}
			o.setSwitch(kind)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return o, usageError(fmt.Sprintf("error while handling argument %q: expected value for argument", name))
			}
			i++
			value = args[i]
		}
		if err := o.set(kind, value); err != nil {
			return o, usageError(fmt.Sprintf("error while handling argument %q: %v", name, err))
		}
	}
	return o, nil
}

func (o *options) setSwitch(kind flagKind) {
	switch kind {
	case flagHelp:
		o.help = true
	case flagAutoload:
		o.noAutoload = false
	case flagNoAutoload:
		o.noAutoload = true
	case flagMetrics:
		o.metrics = true
	case flagSlots:
		o.noSlots = false
	case flagNoSlots:
		o.noSlots = true
	}
}

func (o *options) set(kind flagKind, v string) error {
	switch kind {
	case flagModel:
		o.model, o.modelGiven = v, true
	case flagModelsDir:
		o.modelsDir = v
	case flagModelsMax, flagSleepIdle:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid value %q", v)
		}
		if kind == flagModelsMax {
			o.modelsMax = n
		} else {
			o.sleepIdle = n
		}
	case flagHost:
		o.host = v
	case flagPort, flagCtx:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("invalid value %q", v)
		}
		if kind == flagPort {
			o.port = n
		} else {
			o.ctx = n
		}
	case flagParallel:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			return fmt.Errorf("invalid value %q", v)
		}
		o.parallel = n
	case flagAPIKey:
		o.apiKey = v
	case flagAlias:
		o.alias = v
	}
	return nil
}
