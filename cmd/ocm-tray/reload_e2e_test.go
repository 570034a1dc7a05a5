//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
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
	testenv.Eventually(e.t, "the gate to name the new folder", func() bool {
		r, _ := e.status()["reason"].(string)
		return strings.Contains(r, "elsewhere")
	})
	os.MkdirAll(other, 0o755)
	fakellama.WriteModel(filepath.Join(other, "tiny.gguf"))
	e.waitState("running")
}

// A settings file that is a symbolic link into a dotfiles folder, as stow,
// chezmoi and home-manager make it: editing the file it points to is seen
// by the running agent, though nothing changes next to the link.
func TestSymlinkedSettingsFileIsWatched(t *testing.T) {
	e := newEnv(t)
	e.writeSettings("", false)
	dotfile := filepath.Join(e.root, "dotfiles", "ocm", "settings.toml")
	os.MkdirAll(filepath.Dir(dotfile), 0o755)
	if err := os.Rename(e.settings, dotfile); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dotfile, e.settings); err != nil {
		t.Fatal(err)
	}
	e.startAgent()
	e.waitState("not_spawning")
	body := string(mustRead(t, dotfile))
	if err := os.WriteFile(dotfile, []byte(body+"max_restarts = -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(e.t, "settings_error after editing the linked file", func() bool {
		se, _ := e.status()["settings_error"].(string)
		return strings.Contains(se, "supervisor.max_restarts")
	})
}
