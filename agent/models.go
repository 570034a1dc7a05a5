package agent

import (
	"errors"
	"fmt"

	"github.com/OpenCircuitDev/ocm-tray/settings"
)

// errClosing answers a model verb that comes while the agent shuts down.
var errClosing = errors.New("ocm-tray is shutting down")

// Use makes name the model: it writes model_id into the settings file
// (keeping every other byte) and reloads at once, so the server switches
// now rather than at the watcher's next look. Nothing is written when the
// model is not in the models folder, the file is invalid, or it changed
// since the agent read it; the error says which.
func (a *agent) Use(name string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return "", errClosing
	}
	if !a.snapOK {
		return "", fmt.Errorf("%s: %w; it is being reloaded, try again", a.paths.ConfigFile, settings.ErrChanged)
	}
	m, err := settings.FindModel(a.lastGood, a.paths.ModelsDir, name)
	if err != nil {
		return "", err
	}
	if err := settings.SetModelID(a.paths.ConfigFile, m.ID, a.snap); err != nil {
		return "", err
	}
	a.log.Info("model chosen", "model", m.ID, "settings", a.paths.ConfigFile)
	a.reloadLocked()
	msg := fmt.Sprintf("model_id = %q in %s: llama-server switches to it", m.ID, settings.ShowPath(a.paths.ConfigFile))
	switch {
	case m.Settle > 0:
		msg += fmt.Sprintf("; %s %s: it starts once the download is complete", m.ID, m.Problem)
	case m.Problem != "":
		msg += fmt.Sprintf("; but %s %s: llama-server cannot start on it", m.ID, m.Problem)
	}
	return msg, nil
}

// Load loads a model into llama-server's router.
func (a *agent) Load(name string) (string, error) {
	return "", a.needRouter()
}

// Unload unloads a model from llama-server's router ("" every model).
func (a *agent) Unload(name string) (string, error) {
	return "", a.needRouter()
}

func (a *agent) needRouter() error {
	return fmt.Errorf(`loading and unloading models needs router mode: set mode = "router" under [models] in %s (a llama-server whose --help lists --models-dir)`, settings.ShowPath(a.paths.ConfigFile))
}
