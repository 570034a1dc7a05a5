package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/models"
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
