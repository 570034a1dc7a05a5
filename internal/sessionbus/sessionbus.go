//go:build unix

// Package sessionbus finds the user's D-Bus session bus, the one way the
// tray and notifications both use, so they never disagree about which bus
// (or whether there is one), and opens private connections to a bus within
// a time bound (Dial: notifications on the session bus, the logind lock on
// the system bus).
package sessionbus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/godbus/dbus/v5"
)

// ErrNone means there is no session bus to talk to.
var ErrNone = errors.New("there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set and no bus socket was found)")

// Address finds the session bus the way godbus does (the variable, then
// the "bus" socket in XDG_RUNTIME_DIR, else /run/user/UID), minus godbus's
// last resort: with neither, godbus runs dbus-launch, which starts a
// private bus nobody else uses and leaves it running (docs/desktop.md).
// No bus is the better answer.
func Address() (string, error) {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && addr != "autolaunch:" {
		return addr, nil
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	// Only a socket of our own: a bus someone else put there would see
	// every notification and could answer for the tray host.
	sock := filepath.Join(dir, "bus")
	if fi, err := os.Stat(sock); err == nil && fi.Mode().Type() == os.ModeSocket && ownedByUs(fi) {
		return "unix:path=" + dbus.EscapeBusAddressValue(sock), nil
	}
	return "", ErrNone
}

func ownedByUs(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
