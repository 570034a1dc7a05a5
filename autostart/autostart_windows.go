// Package autostart manages ocm-tray's start at login. On Windows that is a
// value in the user's Run key (HKCU\Software\Microsoft\Windows\CurrentVersion\Run),
// the same switch Task Manager's Startup tab shows and can turn off (it
// records that under Explorer\StartupApproved\Run). A Startup-folder
// shortcut would need COM to write; a registry value needs nothing.
package autostart

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/sys/windows/registry"
)

const (
	runKey      = `Software\Microsoft\Windows\CurrentVersion\Run`
	approvedKey = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
	valueName   = "ocm-tray"
)

// Status is what Check found.
type Status struct {
	// Enabled: the Run value exists and Task Manager has not switched it off.
	Enabled bool
	// Path names the Run value, whether or not it exists.
	Path string
	// UnitEnabled and UnitPath are for the systemd user unit, which Windows
	// does not have: always false and "".
	UnitEnabled bool
	UnitPath    string
}

// EntryPath names the Run value, as a person would find it in regedit.
func EntryPath() string { return `HKCU\` + runKey + `\` + valueName }

// Entry returns the Run value's command line for exe: the path quoted, so a
// path with spaces stays one program.
func Entry(exe string) string { return `"` + exe + `"` }

// Enable sets the Run value to start exe, the absolute path of the running
// binary, and clears Task Manager's "disabled" mark if it set one. It
// returns the value's name. A binary in a temporary or build-cache folder is
// refused with ErrTemporaryExe: install it first.
func Enable(exe string) (path string, err error) {
	path = EntryPath()
	if err := checkExe(exe); err != nil {
		return path, err
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return path, fmt.Errorf("autostart: open %s: %w", path, err)
	}
	defer k.Close()
	if err := k.SetStringValue(valueName, Entry(exe)); err != nil {
		return path, fmt.Errorf("autostart: write %s: %w", path, err)
	}
	if err := deleteValue(approvedKey); err != nil {
		return path, fmt.Errorf("autostart: clear the Task Manager switch: %w", err)
	}
	return path, nil
}

// Disable deletes the Run value and Task Manager's mark for it. removed is
// false when there was no value, which is not an error.
func Disable() (path string, removed bool, err error) {
	path = EntryPath()
	err = deleteValue(runKey)
	if errors.Is(err, registry.ErrNotExist) {
		return path, false, deleteValue(approvedKey)
	}
	if err != nil {
		return path, false, fmt.Errorf("autostart: delete %s: %w", path, err)
	}
	return path, true, deleteValue(approvedKey)
}

// deleteValue deletes our value under key; a missing key or value is
// registry.ErrNotExist for runKey, nil for the others.
func deleteValue(key string) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, key, registry.SET_VALUE)
	if err == nil {
		defer k.Close()
		err = k.DeleteValue(valueName)
	}
	if errors.Is(err, registry.ErrNotExist) && key != runKey {
		return nil
	}
	return err
}

// Check reports whether the Run value is there and not switched off.
func Check() (Status, error) {
	s := Status{Path: EntryPath()}
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("autostart: open %s: %w", s.Path, err)
	}
	defer k.Close()
	if _, _, err := k.GetStringValue(valueName); errors.Is(err, registry.ErrNotExist) {
		return s, nil
	} else if err != nil {
		return s, fmt.Errorf("autostart: read %s: %w", s.Path, err)
	}
	s.Enabled = !switchedOff()
	return s, nil
}

// switchedOff reads Task Manager's mark: a binary value whose first byte is
// odd (3) when the user disabled the entry, even (2) when enabled again.
func switchedOff() bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, approvedKey, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	b, _, err := k.GetBinaryValue(valueName)
	return err == nil && len(b) > 0 && b[0]&1 == 1
}

// Describe tells a person what Check found, in one line.
func Describe(s Status) string {
	if s.Enabled {
		return "autostart: on (" + s.Path + ")"
	}
	return "autostart: off (no enabled value " + s.Path + ")"
}

// UnitNote is always "": Windows has no systemd user unit to compete with.
func UnitNote(Status) string { return "" }

// checkExe refuses a relative path (a login starts programs elsewhere),
// characters a Run command line cannot carry, and a temporary build.
func checkExe(exe string) error {
	if !filepath.IsAbs(exe) {
		return fmt.Errorf("%w: %q is not absolute", ErrInvalidExe, exe)
	}
	if strings.ContainsRune(exe, '"') || strings.IndexFunc(exe, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: %q contains a quote or a control character", ErrInvalidExe, exe)
	}
	if where := temporaryFolder(exe); where != "" {
		return fmt.Errorf("%w: %s is in %s", ErrTemporaryExe, exe, where)
	}
	return nil
}
