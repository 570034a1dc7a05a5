package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/models"
	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

// ModelJudge is the part of a file system that looks inside model files.
// OSFS has it; a file system without it (the gate's tables of fake files)
// has every model file that exists judged sound.
type ModelJudge interface {
	JudgeModel(path string) models.Verdict
}

// JudgeModel judges the model file at path now (models.JudgeFile).
func (OSFS) JudgeModel(path string) models.Verdict { return models.JudgeFile(path, time.Now()) }

// judgeModel checks the model at path (the first part of a split model)
// before llama-server is started on it: every part is there, and each is a
// complete GGUF file that is not being written. Starting the server on a
// file still downloading would have it fail to load and spend the restart
// budget; refusing says how far the download is, and settle says when to
// look again (the download may have finished by then).
func judgeModel(fsys FS, path string) (reason string, settle time.Duration) {
	parts := models.Parts(path)
	for i, p := range parts {
		if i > 0 {
			_, err := fsys.Stat(p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return fmt.Sprintf("model file %s not found: a split model needs all %d parts", tildePath(p), len(parts)), 0
			case err != nil:
				return fmt.Sprintf("model file %s cannot be read: %s", tildePath(p), errText(err)), 0
			}
		}
		j, ok := fsys.(ModelJudge)
		if !ok {
			continue
		}
		if reason, settle := verdictReason(tildePath(p), j.JudgeModel(p)); reason != "" {
			return reason, settle
		}
	}
	return "", 0
}

// verdictReason says what is wrong with a model file, in the gate's words.
func verdictReason(shown string, v models.Verdict) (string, time.Duration) {
	what := v.Describe()
	if what == "" {
		return "", 0
	}
	return "model file " + shown + " " + what, v.Settle
}

// FindModel looks for the model name in the models folder of s (defaultDir
// when models_dir is not set): an ID as `ocm-tray models` lists it, with or
// without .gguf, or a split model's name without its part suffix. Not
// found, the error names the folder it looked in.
func FindModel(s Settings, defaultDir, name string) (models.Model, error) {
	dir := ModelsDir(s, defaultDir)
	list, err := models.List(dir, time.Now())
	if err != nil {
		return models.Model{}, err
	}
	if m, ok := models.Find(list, name); ok {
		return m, nil
	}
	return models.Model{}, fmt.Errorf("no model %q in %s (ocm-tray models lists them)", name, tildePath(dir))
}

// ShowPath writes path for a person: under the home directory as ~/...
func ShowPath(path string) string { return tildePath(path) }

// NoRouterReason is the gate's refusal of router mode with a build that
// has none.
const NoRouterReason = `this llama-server has no router mode (no --models-dir); update llama.cpp or set mode = "single"`

// routerGate is the gate in router mode: the binary must have a router and
// the models folder must exist; model_id is optional. It is loaded once
// the router runs, provided its file is ready (a file still being written
// is looked at again after Settle).
func routerGate(s Settings, bin, defaultDir, in string, fsys FS) Decision {
	caps := capabilities(fsys, bin)
	if !caps.Router {
		return Decision{Reason: NoRouterReason}
	}
	dir := ModelsDir(s, defaultDir)
	if hasControl(dir) || !filepath.IsAbs(dir) {
		return Decision{Reason: fmt.Sprintf("models_dir %q is not an absolute path%s", dir, in)}
	}
	fi, err := fsys.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Decision{Reason: fmt.Sprintf("models folder %s not found: create it and put .gguf files in it, or set models_dir%s", tildePath(dir), in)}
	case err != nil:
		return Decision{Reason: fmt.Sprintf("models folder %s cannot be read: %s", tildePath(dir), errText(err))}
	case !fi.IsDir():
		return Decision{Reason: fmt.Sprintf("models_dir %s is not a folder%s", tildePath(dir), in)}
	}
	d := Decision{Spawn: true, Binary: bin, Router: true, Caps: caps}
	if s.ModelID == "" || checkModelID(s.ModelID) != "" {
		return d
	}
	model := filepath.Join(dir, s.ModelID+models.Ext)
	if _, err := fsys.Stat(model); err != nil {
		return d // not there (yet): the router serves the others
	}
	reason, settle := judgeModel(fsys, model)
	if reason == "" {
		d.Autoload = s.ModelID
	}
	d.Settle = settle
	return d
}

// capabilities asks fsys what binary supports, if it can tell.
func capabilities(fsys FS, bin string) Capabilities {
	if r, ok := fsys.(CapabilityReader); ok {
		return r.Capabilities(bin)
	}
	return Capabilities{}
}

// sleepCaps reads the binary's capabilities when sleep_after needs them:
// --help runs only when there is a flag to decide on.
func sleepCaps(s Settings, bin string, fsys FS) Capabilities {
	if s.Models.SleepSeconds() == 0 {
		return Capabilities{}
	}
	return capabilities(fsys, bin)
}

// sleepArgs is --sleep-idle-seconds for sleep_after, when the binary has
// it; without it, a warning says sleep_after has no effect (passing the
// flag would make llama-server exit on an unknown argument).
func sleepArgs(s Settings, d Decision, cfg *supervisor.Config) []string {
	secs := s.Models.SleepSeconds()
	if secs == 0 {
		return nil
	}
	if !d.Caps.Sleep {
		w := "sleep_after is set, but this llama-server has no --sleep-idle-seconds: the model stays loaded; update llama.cpp"
		if cfg.Warning != "" {
			w = cfg.Warning + "; " + w
		}
		cfg.Warning = w
		return nil
	}
	cfg.WatchSleep = !d.Router
	return []string{"--sleep-idle-seconds", strconv.Itoa(secs)}
}
