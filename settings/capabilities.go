package settings

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Capabilities are what a llama-server binary supports, as its --help
// lists it. Builds differ: router mode and sleeping came in 2025, and an
// unknown flag makes llama-server exit at once, so a flag is passed only
// when the build has it.
type Capabilities struct {
	Router  bool // --models-dir: router mode
	Sleep   bool // --sleep-idle-seconds
	Metrics bool // --metrics
}

// CapabilityReader is the part of a file system that can tell what a
// llama-server binary supports. OSFS runs its --help; a file system without
// it (the gate's tables of fake files) has binaries that support nothing
// beyond a single model.
type CapabilityReader interface {
	Capabilities(binary string) Capabilities
}

// Capabilities reads what binary supports (BinaryCapabilities).
func (OSFS) Capabilities(binary string) Capabilities { return BinaryCapabilities(binary) }

// helpTimeout bounds a run of `llama-server --help`: it prints and exits in
// milliseconds, but a wrong binary must not stall the agent.
var helpTimeout = 10 * time.Second

// maxHelp bounds how much of the help text is kept (a real one is ~30 kB).
const maxHelp = 1 << 20

// capKey identifies one build of a binary: a new build at the same path
// has another size or time.
type capKey struct {
	path string
	size int64
	mod  time.Time
}

var capCache = struct {
	sync.Mutex
	m map[capKey]Capabilities
}{m: map[capKey]Capabilities{}}

// BinaryCapabilities runs `binary --help` once per build (path, size and
// modification time) and remembers what it lists. A help that cannot be
// read (the binary fails, hangs past helpTimeout, is not llama-server)
// means a build that supports a single model only.
func BinaryCapabilities(binary string) Capabilities {
	fi, err := os.Stat(binary)
	if err != nil {
		return Capabilities{}
	}
	key := capKey{binary, fi.Size(), fi.ModTime()}
	capCache.Lock()
	defer capCache.Unlock()
	if c, ok := capCache.m[key]; ok {
		return c
	}
	c := parseHelp(readHelp(binary))
	capCache.m[key] = c
	return c
}

func readHelp(binary string) string {
	ctx, cancel := context.WithTimeout(context.Background(), helpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--help")
	ownGroup(cmd)
	out := &capped{max: maxHelp}
	cmd.Stdout, cmd.Stderr = out, out
	// A process the binary started that keeps the pipes open must not
	// keep us waiting.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil && ctx.Err() != nil {
		return ""
	}
	return out.String()
}

// parseHelp finds the flags that matter in a help text.
func parseHelp(help string) Capabilities {
	has := func(flag string) bool {
		for _, f := range strings.FieldsFunc(help, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '=' }) {
			if f == flag {
				return true
			}
		}
		return false
	}
	return Capabilities{Router: has("--models-dir"), Sleep: has("--sleep-idle-seconds"), Metrics: has("--metrics")}
}

// capped is a buffer that keeps the first max bytes and drops the rest.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
