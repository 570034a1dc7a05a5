//go:build !windows

// Package autostart manages the user's XDG autostart entry for ocm-tray
// ($XDG_CONFIG_HOME/autostart/ocm-tray.desktop) and notices when the systemd
// user unit ocm-tray.service is enabled instead.
//
// The entry and the unit are alternatives: the entry starts the tray app when
// the desktop session starts, the unit starts `ocm-tray --headless` when the
// user's service manager starts. Both at once would start two agents, of
// which the second exits at once ("already running"), so whichever loses the
// race decides whether there is a tray icon. Describe says so.
//
// Nothing here touches a system file or runs systemctl: the unit counts as
// enabled when its symlink exists in a default.target.wants directory.
package autostart

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/adrg/xdg"
)

const (
	entryName = "ocm-tray.desktop"
	unitName  = "ocm-tray.service"
)

// systemUnitWantsDirs are where `systemctl --global enable` puts the unit's
// symlink; a var so tests can point it away from the host's /etc.
var systemUnitWantsDirs = []string{"/etc/systemd/user/default.target.wants"}

// Status is what Check found.
type Status struct {
	// Enabled: the autostart entry exists and is not switched off by
	// Hidden=true or X-GNOME-Autostart-enabled=false (GNOME's "Startup
	// Applications" toggles the latter instead of deleting the file).
	Enabled bool
	// Path is the entry's path, whether or not it exists.
	Path string
	// UnitEnabled: the systemd user unit ocm-tray.service is enabled.
	UnitEnabled bool
	// UnitPath is the wants symlink found, or where the user's would be.
	UnitPath string
}

// EntryPath is the user's autostart entry: $XDG_CONFIG_HOME/autostart/ocm-tray.desktop.
func EntryPath() string {
	return filepath.Join(xdg.ConfigHome, "autostart", entryName)
}

// userUnitWantsPath is the symlink `systemctl --user enable ocm-tray` creates,
// given the unit's WantedBy=default.target.
func userUnitWantsPath() string {
	return filepath.Join(xdg.ConfigHome, "systemd", "user", "default.target.wants", unitName)
}

// Entry returns the text of the autostart entry that runs exe. It is the
// packaged packaging/linux/ocm-tray-autostart.desktop with exe in Exec and
// TryExec (TryExec makes the session skip the entry quietly once the binary
// is gone). exe should be what Enable accepts.
func Entry(exe string) []byte {
	var b strings.Builder
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	// 1.4, not 1.5: desktop-file-validate before 0.27 (Debian 12) rejects 1.5,
	// and nothing here needs 1.5.
	b.WriteString("Version=1.4\n")
	b.WriteString("Name=ocm-tray\n")
	b.WriteString("GenericName=Local LLM Server Monitor\n")
	b.WriteString("Comment=Keep a local llama.cpp llama-server running and show its state in the system tray\n")
	b.WriteString("Exec=" + escapeString(quoteExecArg(exe)) + "\n")
	b.WriteString("TryExec=" + escapeString(exe) + "\n")
	b.WriteString("Icon=ocm-tray\n")
	b.WriteString("Terminal=false\n")
	b.WriteString("StartupNotify=false\n")
	b.WriteString("X-GNOME-Autostart-enabled=true\n")
	return []byte(b.String())
}

// Enable writes the user's autostart entry for exe, the absolute path of the
// running binary, replacing any entry there (including one switched off).
// The file is written atomically with mode 0644. It returns the entry's path.
// A binary in a temporary or build-cache folder is refused with
// ErrTemporaryExe: install it first.
func Enable(exe string) (path string, err error) {
	path = EntryPath()
	if err := checkExe(exe); err != nil {
		return path, err
	}
	if err := writeFileAtomic(path, Entry(exe), 0o644); err != nil {
		return path, fmt.Errorf("autostart: write %s: %w", path, err)
	}
	return path, nil
}

// Disable removes the user's autostart entry. removed is false when there
// was none, which is not an error.
func Disable() (path string, removed bool, err error) {
	path = EntryPath()
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, false, nil
	}
	if err != nil {
		return path, false, fmt.Errorf("autostart: %w", err)
	}
	if fi.IsDir() {
		return path, false, fmt.Errorf("autostart: %s is a directory; remove it yourself", path)
	}
	if err := os.Remove(path); err != nil {
		return path, false, fmt.Errorf("autostart: %w", err)
	}
	return path, true, nil
}

// Check reports whether the autostart entry is enabled and whether the
// systemd user unit is (in the user's config, or globally in /etc).
func Check() (Status, error) {
	s := Status{Path: EntryPath(), UnitPath: userUnitWantsPath()}
	data, err := os.ReadFile(s.Path)
	switch {
	case err == nil:
		s.Enabled = entryEnabled(data)
	case errors.Is(err, fs.ErrNotExist):
	default:
		return s, fmt.Errorf("autostart: %w", err)
	}
	// Stat, not Lstat: a symlink left dangling by an uninstalled package
	// starts nothing. Other errors (permission) read as not enabled: a
	// status query should not fail over them.
	for _, p := range append([]string{s.UnitPath}, wantsPaths(systemUnitWantsDirs)...) {
		if _, err := os.Stat(p); err == nil {
			s.UnitEnabled, s.UnitPath = true, p
			break
		}
	}
	return s, nil
}

func wantsPaths(dirs []string) []string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = filepath.Join(d, unitName)
	}
	return out
}

// Describe tells a person what Check found: one line about the autostart
// entry and, when the systemd user unit is enabled, one about the unit.
func Describe(s Status) string {
	var line string
	if s.Enabled {
		line = "autostart: on (" + s.Path + ")"
	} else {
		line = "autostart: off (no enabled entry at " + s.Path + ")"
	}
	if note := UnitNote(s); note != "" {
		line += "\n" + note
	}
	return line
}

// UnitNote is the line about the systemd user unit, or "" when it is not
// enabled. With autostart also on it asks the user to pick one; with
// autostart off it says the unit still starts the agent.
func UnitNote(s Status) string {
	if !s.UnitEnabled {
		return ""
	}
	disable := "systemctl --user disable ocm-tray"
	if !strings.HasPrefix(s.UnitPath, xdg.ConfigHome+string(filepath.Separator)) {
		disable = "sudo systemctl --global disable ocm-tray" // enabled for every user
	}
	if s.Enabled {
		return "the systemd user unit " + unitName + " is enabled; autostart and the unit are alternatives — disable one (" + disable + ")"
	}
	return "the systemd user unit " + unitName + " is enabled (" + s.UnitPath + "): it still starts ocm-tray --headless at login (" + disable + " to stop that)"
}

// entryEnabled reads the keys that switch an existing entry off.
func entryEnabled(data []byte) bool {
	inMain := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			inMain = line == "[Desktop Entry]"
			continue
		}
		if !inMain {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case key == "Hidden" && val == "true":
			return false
		case key == "X-GNOME-Autostart-enabled" && val == "false":
			return false
		}
	}
	return true
}

// checkExe refuses what would make a broken or surprising entry: a relative
// path (the session's working directory is not ours), non-UTF-8 (desktop
// entries are UTF-8) and control characters.
func checkExe(exe string) error {
	if !filepath.IsAbs(exe) {
		return fmt.Errorf("%w: %q is not absolute", ErrInvalidExe, exe)
	}
	if !utf8.ValidString(exe) {
		return fmt.Errorf("%w: %q is not UTF-8", ErrInvalidExe, exe)
	}
	if strings.IndexFunc(exe, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: %q contains a control character", ErrInvalidExe, exe)
	}
	if where := temporaryFolder(exe); where != "" {
		return fmt.Errorf("%w: %s is in %s", ErrTemporaryExe, exe, where)
	}
	return nil
}

// quoteExecArg quotes one Exec argument per the Desktop Entry Specification
// ("The Exec key"): an argument with a reserved character is put in double
// quotes, inside which ", `, $ and \ take a backslash; a literal % is %%.
func quoteExecArg(arg string) string {
	arg = strings.ReplaceAll(arg, "%", "%%")
	if !strings.ContainsAny(arg, " \t\n\"'\\><~|&;$*?#()`") {
		return arg
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range arg {
		switch r {
		case '"', '`', '$', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// escapeString applies the escapes of the spec's string type, which readers
// undo before they parse Exec quoting (so a literal \ in a quoted Exec
// argument is written \\\\).
func escapeString(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// over path, so a session starting meanwhile never reads half an entry. The
// temporary name does not end in .desktop, so a leftover is never run.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	// 0700: what the XDG base directory spec asks for directories it creates.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".ocm-tray-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil { // CreateTemp makes 0600; umask does not apply to Chmod
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
