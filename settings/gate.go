package settings

import (
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/regular"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// FS is what the spawn-gate asks of the file system. It is an interface so
// that Gate stays a pure function, tested by tables of fake files.
type FS interface {
	Stat(name string) (fs.FileInfo, error)
	LookPath(file string) (string, error)
}

// OSFS is the real file system and the real $PATH.
type OSFS struct{}

// Stat is os.Stat.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// LookPath is exec.LookPath. A hit in a relative PATH entry (exec.ErrDot)
// is an error: it would depend on the agent's working directory.
func (OSFS) LookPath(file string) (string, error) { return exec.LookPath(file) }

// Decision is the spawn-gate's answer.
type Decision struct {
	Spawn     bool
	Reason    string // why not, in words a person can act on ("" when Spawn)
	Binary    string // the resolved absolute path of llama-server (when Spawn)
	ModelPath string // models_dir/<model_id>.gguf (when Spawn)
	// Settle is set when the model file is still being written: judge it
	// again after this long, and the server may start then.
	Settle time.Duration

	// Router: run llama-server's router over the models folder (router
	// mode); Autoload is model_id when its file is ready to load.
	Router   bool
	Autoload string
	// Caps is what the binary supports, where the settings need to know.
	Caps Capabilities
}

// ModelsDir is the folder Gate looks in: models_dir (with ~/ expanded) when
// set, else defaultDir (Paths.ModelsDir).
func ModelsDir(s Settings, defaultDir string) string {
	if s.ModelsDir != "" {
		return expandHome(s.ModelsDir)
	}
	return defaultDir
}

// Gate decides whether llama-server may be spawned (docs/settings.md,
// "Spawn-gate"): backend is llamacpp, llama_server_binary
// names an executable file, model_id is set and models_dir/<model_id>.gguf
// exists and is a complete GGUF file, all its parts there, not being
// written. It refuses rather than spawn a server that cannot start, since
// that would only burn the restart budget and end in
// failed_after_max_restarts; a refusal instead tells the person what is
// missing, and the gate runs again when the settings or the models folder
// change (a finished download starts the server).
func Gate(s Settings, modelsDir string, fsys FS) Decision {
	refuse := func(format string, args ...any) Decision {
		return Decision{Reason: fmt.Sprintf(format, args...)}
	}
	in := ""
	if s.File != "" {
		in = " in " + tildePath(s.File)
	}
	switch s.Backend {
	case BackendLlamaCpp:
	case BackendOllama:
		return refuse(`backend is "ollama": Ollama runs its own service, ocm-tray does not spawn it`)
	case BackendAuto, "":
		return refuse(`backend is "auto": ocm-tray runs llama-server only when backend = "llamacpp"%s`, in)
	default:
		return refuse(`backend %s is not one of "auto", "ollama", "llamacpp"%s`, quote(string(s.Backend)), in)
	}

	if s.LlamaServerBinary == "" {
		return refuse("llama_server_binary is not set%s: set it to the path of llama-server", in)
	}
	bin, reason := resolveBinary(s.LlamaServerBinary, in, fsys)
	if reason != "" {
		return refuse("%s", reason)
	}
	if s.Models.Mode == ModeRouter {
		return routerGate(s, bin, modelsDir, in, fsys)
	}

	if s.ModelID == "" {
		return refuse("model_id is not set%s: set it to the name of a .gguf file in %s, without .gguf", in, tildePath(ModelsDir(s, modelsDir)))
	}
	if msg := checkModelID(s.ModelID); msg != "" {
		return refuse("model_id %s%s", msg, in)
	}
	dir := ModelsDir(s, modelsDir)
	if hasControl(dir) || !filepath.IsAbs(dir) {
		return refuse("models_dir %s is not an absolute path%s", quote(dir), in)
	}
	model := filepath.Join(dir, s.ModelID+".gguf")
	fi, err := fsys.Stat(model)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return refuse("model file %s not found", tildePath(model))
	case err != nil:
		return refuse("model file %s cannot be read: %s", tildePath(model), errText(err))
	case !fi.Mode().IsRegular():
		// A pipe or a device would have llama-server block, or read for
		// ever, while opening the model.
		return refuse("model file %s is %s, not a .gguf file", tildePath(model), regular.Kind(fi.Mode()))
	}
	if reason, settle := judgeModel(fsys, model); reason != "" {
		return Decision{Reason: reason, Settle: settle}
	}
	return Decision{Spawn: true, Binary: bin, ModelPath: model, Caps: sleepCaps(s, bin, fsys)}
}

// resolveBinary turns llama_server_binary into an absolute path of an
// executable regular file, or says why it cannot.
func resolveBinary(b, in string, fsys FS) (path, reason string) {
	if hasControl(b) {
		return "", fmt.Sprintf("llama_server_binary %s contains a control character%s", quote(b), in)
	}
	switch {
	case isBareName(b):
		p, err := fsys.LookPath(b)
		if err != nil {
			return "", fmt.Sprintf("llama_server_binary %s was not found on PATH: install llama.cpp, or set llama_server_binary to the full path of llama-server%s", quote(b), in)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Sprintf("llama_server_binary %s was found at %s, which cannot be made absolute: %v", quote(b), p, err)
		}
		b = abs
	case b == "~" || len(b) > 1 && b[:2] == "~/":
		b = expandHome(b)
		if !filepath.IsAbs(b) {
			return "", fmt.Sprintf("llama_server_binary %s starts with ~/ but the home directory is unknown: write the full path%s", quote(b), in)
		}
	case !filepath.IsAbs(b):
		return "", fmt.Sprintf("llama_server_binary %s is a relative path: use an absolute path, one starting with ~/, or a bare name found on PATH%s", quote(b), in)
	}
	b = filepath.Clean(b)
	shown := tildePath(b)
	fi, err := fsys.Stat(b)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Sprintf("llama_server_binary %s not found: install llama.cpp there or correct the path%s", shown, in)
	case err != nil:
		return "", fmt.Sprintf("llama_server_binary %s cannot be checked: %s", shown, errText(err))
	case fi.IsDir():
		return "", fmt.Sprintf("llama_server_binary %s is a directory: set it to the llama-server program inside it%s", shown, in)
	case !fi.Mode().IsRegular():
		return "", fmt.Sprintf("llama_server_binary %s is %s, not a program%s", shown, regular.Kind(fi.Mode()), in)
	case runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Sprintf("llama_server_binary %s is not executable: run chmod +x %s", shown, b)
	}
	return b, ""
}
