package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/settings"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// errClosing answers a model verb that comes while the agent shuts down.
var errClosing = errors.New("ocm-tray is shutting down")

// routerTimeout bounds a load or unload request to the router; it answers
// at once (loading happens after the answer).
const routerTimeout = 10 * time.Second

// Use makes name the model: it writes model_id into the settings file
// (keeping every other byte) and reloads at once, so the server switches
// now rather than at the watcher's next look; with a router, the reload
// has the router load it. Nothing is written when the model is not in the
// models folder, the file is invalid, or it changed since the agent read
// it; the error says which.
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
	what := "llama-server switches to it"
	if a.lastGood.Models.Mode == settings.ModeRouter {
		what = "the router loads it"
	}
	msg := fmt.Sprintf("model_id = %q in %s: %s", m.ID, settings.ShowPath(a.paths.ConfigFile), what)
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
	id, err := a.routerModel(name)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), routerTimeout)
	defer cancel()
	if err := a.sup.LoadModel(ctx, id); err != nil {
		return "", err
	}
	return fmt.Sprintf("asked the router to load %s", id), nil
}

// Unload unloads a model from llama-server's router ("" every model).
func (a *agent) Unload(name string) (string, error) {
	id := ""
	if name != "" {
		var err error
		if id, err = a.routerModel(name); err != nil {
			return "", err
		}
	} else if _, err := a.routerModel(""); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), routerTimeout)
	defer cancel()
	if err := a.sup.UnloadModel(ctx, id); err != nil {
		return "", err
	}
	if id == "" {
		return "asked the router to unload every model", nil
	}
	return fmt.Sprintf("asked the router to unload %s", id), nil
}

// routerModel checks that a router runs and finds the model name means
// ("" when name is "").
func (a *agent) routerModel(name string) (string, error) {
	a.mu.Lock()
	s, closed := a.lastGood, a.closed
	a.mu.Unlock()
	if closed {
		return "", errClosing
	}
	if s.Models.Mode != settings.ModeRouter {
		return "", fmt.Errorf(`loading and unloading models needs router mode: set mode = "router" under [models] in %s (a llama-server whose --help lists --models-dir)`, settings.ShowPath(a.paths.ConfigFile))
	}
	if st := a.sup.Hub().Status(); st.State != status.Running {
		return "", fmt.Errorf("llama-server's router is not running (%s): start it first", status.OneLine(st))
	}
	if name == "" {
		return "", nil
	}
	m, err := settings.FindModel(s, a.paths.ModelsDir, name)
	if err != nil {
		return "", err
	}
	return m.ID, nil
}
