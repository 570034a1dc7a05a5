package fakellama

import (
	"fmt"
	"io"
)

// printHelp writes a usage text shaped like the real server's: one flag
// per line, short and long names first. A build without router mode or
// sleeping (the knobs) lists neither, as builds before 2025 do.
func printHelp(w io.Writer, k knobs) {
	lines := []string{
		"----- common params -----",
		"",
		"-h,    --help, --usage                    print usage and exit",
		"-t,    --threads N                        number of CPU threads to use during generation",
		"-c,    --ctx-size N                       size of the prompt context (default: 4096, 0 = loaded from model)",
		"-m,    --model FNAME                      model path to load",
		"-a,    --alias STRING                     set alias for model name (to be used by REST API)",
		"-ngl,  --gpu-layers, --n-gpu-layers N     max. number of layers to store in VRAM",
		"",
		"----- example-specific params -----",
		"",
		"--host HOST                               ip address to listen, or bind to an UNIX socket if the address ends with .sock (default: 127.0.0.1)",
		"--port PORT                               port to listen (default: 8080)",
		"--api-key KEY                             API key to use for authentication (default: none)",
		"-np,   --parallel N                       number of server slots (default: -1, -1 = auto)",
		"--metrics                                 enable prometheus compatible metrics endpoint (default: disabled)",
		"--slots, --no-slots                       expose slots monitoring endpoint (default: enabled)",
	}
	if !k.noRouter {
		lines = append(lines,
			"--models-dir PATH                         directory containing models for the router server (default: disabled)",
			"--models-preset PATH                      path to INI file containing model presets for the router server (default: disabled)",
			"--models-max N                            for router server, maximum number of models to load simultaneously (default: 4, 0 = unlimited)",
			"--models-autoload, --no-models-autoload   for router server, whether to automatically load models (default: enabled)",
		)
	}
	if !k.noSleep {
		lines = append(lines,
			"--sleep-idle-seconds SECONDS              number of seconds of idleness after which the server will sleep (default: -1; -1 = disabled)",
		)
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
