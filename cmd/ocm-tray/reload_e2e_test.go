//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
)

// A models_dir set while the agent runs is watched from then on: a model
// arriving there starts the server.
func TestNewModelsDirIsWatched(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", false)
	e.startAgent()
	e.waitState("not_spawning")
	other := filepath.Join(e.root, "elsewhere", "models")
	body := string(mustRead(t, e.settings))
	body = fmt.Sprintf("models_dir = %q\n", other) + body
	os.WriteFile(e.settings, []byte(body), 0o644)
	e.poll(10*time.Second, "the gate to name the new folder", func() bool {
		r, _ := e.status()["reason"].(string)
		return strings.Contains(r, "elsewhere")
	})
	os.MkdirAll(other, 0o755)
	fakellama.WriteModel(filepath.Join(other, "tiny.gguf"))
	e.waitState("running")
}
