package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/adrg/xdg"
)

// AppDir is the directory name under each XDG base directory.
const AppDir = "ocm"

// SettingsFileName is the settings file inside $XDG_CONFIG_HOME/ocm.
const SettingsFileName = "settings.toml"

// Paths are the agent's files and directories (docs/architecture.md, "Files").
type Paths struct {
	ConfigFile string // settings.toml (--config overrides)
	ModelsDir  string // default models folder: $XDG_DATA_HOME/ocm/models (models_dir overrides)
	StateDir   string // logs: $XDG_STATE_HOME/ocm
	RuntimeDir string // socket, lock, pid file: $XDG_RUNTIME_DIR/ocm or $TMPDIR/ocm-<uid>
}

// The agent's files are named here and nowhere else: every package asks
// Paths for them.

// ServerLog is where llama-server's stdout and stderr are appended.
func (p Paths) ServerLog() string { return filepath.Join(p.StateDir, "llama-server.log") }

// AgentLog is the agent's own log.
func (p Paths) AgentLog() string { return filepath.Join(p.StateDir, "ocm-tray.log") }

// Socket is the control socket the CLI talks to the agent through.
func (p Paths) Socket() string { return filepath.Join(p.RuntimeDir, "ocm-tray.sock") }

// LockFile is the one-agent-per-user lock.
func (p Paths) LockFile() string { return filepath.Join(p.RuntimeDir, "ocm-tray.lock") }

// PIDFile records the running llama-server's pid, so that an agent started
// after one that died can stop a server it left behind.
func (p Paths) PIDFile() string { return filepath.Join(p.RuntimeDir, "llama-server.pid") }

// ResolvePaths computes the paths from the environment as adrg/xdg read it
// (tests that change XDG_* call xdg.Reload first). It creates nothing: the
// xdg.*File helpers create directories, which a `check` must not do.
// configOverride, when not empty, is the --config path, kept as given so that
// messages name the file the way the user wrote it.
func ResolvePaths(configOverride string) (Paths, error) {
	for name, dir := range map[string]string{
		"XDG_CONFIG_HOME": xdg.ConfigHome,
		"XDG_DATA_HOME":   xdg.DataHome,
		"XDG_STATE_HOME":  xdg.StateHome,
	} {
		// adrg/xdg falls back to $HOME/...; with no home at all it yields a
		// relative path, which would scatter files in the working directory.
		if !filepath.IsAbs(dir) {
			return Paths{}, fmt.Errorf("cannot find the home directory for %s (got %q): set HOME or %s", name, dir, name)
		}
	}
	p := Paths{
		ConfigFile: filepath.Join(xdg.ConfigHome, AppDir, SettingsFileName),
		ModelsDir:  filepath.Join(xdg.DataHome, AppDir, "models"),
		StateDir:   filepath.Join(xdg.StateHome, AppDir),
		RuntimeDir: runtimeDir(),
	}
	if configOverride != "" {
		p.ConfigFile = configOverride
	}
	return p, nil
}

// runtimeDir picks $XDG_RUNTIME_DIR/ocm when the variable is set and names an
// existing directory. adrg/xdg would otherwise fall back to /run/user/<uid>,
// which does not exist for root in CI, over ssh or in containers; there we
// use $TMPDIR/ocm-<uid>, whose ownership and mode EnsureRuntimeDir checks
// because anyone can create names in a shared temporary directory.
func runtimeDir() string {
	if runtime.GOOS == "windows" {
		// No XDG_RUNTIME_DIR convention; adrg/xdg picks the per-user local
		// application data folder.
		return filepath.Join(xdg.RuntimeDir, AppDir)
	}
	if os.Getenv("XDG_RUNTIME_DIR") != "" && filepath.IsAbs(xdg.RuntimeDir) {
		if fi, err := os.Stat(xdg.RuntimeDir); err == nil && fi.IsDir() {
			return filepath.Join(xdg.RuntimeDir, AppDir)
		}
	}
	return filepath.Join(os.TempDir(), AppDir+"-"+strconv.Itoa(os.Getuid()))
}

// EnsureRuntimeDir creates dir with mode 0700 if needed and verifies that it
// is a real directory (not a symlink), owned by the current user and not
// reachable by group or others. The control socket and the pid file live
// there: in a shared $TMPDIR another user could pre-create the directory and
// then read, replace or impersonate them. A wrong directory is an error that
// says how to fix it; it is never silently re-permissioned.
func EnsureRuntimeDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	return CheckRuntimeDir(dir)
}

// CheckRuntimeDir verifies what EnsureRuntimeDir does, creating nothing: the
// command line runs it before it trusts a socket there. A missing directory
// is an error wrapping fs.ErrNotExist (no agent has run).
func CheckRuntimeDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("runtime directory %s is a symbolic link: remove it (rm %s) so ocm-tray can create a private directory", dir, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("runtime directory %s is not a directory: remove it (rm %s)", dir, dir)
	}
	return checkPrivateDir(dir, fi)
}

// EnsureStateDir creates the log directory (mode 0700: logs can hold prompts
// and paths) and its parents, and verifies it is a directory.
func EnsureStateDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state directory %s is not a directory: move the file away (mv %s %s.old)", dir, dir, dir)
	}
	return nil
}

// expandHome expands a leading "~/" (and a lone "~") to the home directory.
// Only the current user's home: "~user/" is not expanded and stays relative.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return p
	}
	return filepath.Join(home, p[1:])
}

// tildePath abbreviates the home directory as "~" so reasons stay short and
// read the way people write paths.
func tildePath(p string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || home == string(filepath.Separator) {
		return p
	}
	home = filepath.Clean(home)
	if p == home {
		return "~"
	}
	if rest, ok := strings.CutPrefix(p, home+string(filepath.Separator)); ok {
		return "~" + string(filepath.Separator) + rest
	}
	return p
}
