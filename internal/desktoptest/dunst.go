//go:build linux

package desktoptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// dunst invokes a notification's action from its context menu, which it
// shows by running its "dmenu" command with one line per action,
// "#LABEL (SUMMARY) [ID,KEY]", reading back the chosen line. The test bed's
// dunst runs a script instead that chooses the line whose label is in the
// file menuChoice (a test writes it; see InvokeAction).
const (
	menuScript = "dunst-menu"
	menuChoice = "dunst-menu-choice"
)

// menuPicker chooses, from the lines dunst sends, the first action whose
// label is the content of the choice file.
const menuPicker = `#!/bin/sh
choice=$(cat "$HOME/` + menuChoice + `" 2>/dev/null)
grep -m 1 -F "#$choice ("
`

var reDmenu = regexp.MustCompile(`(?m)^(\s*dmenu\s*=).*$`)

// writeDunstConfig gives dunst the system's configuration with the menu
// picker as its dmenu.
func writeDunstConfig(t testing.TB, home string) {
	t.Helper()
	script := filepath.Join(home, menuScript)
	if err := os.WriteFile(script, []byte(menuPicker), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "[global]\n    dmenu = " + script + "\n"
	if sys, err := os.ReadFile("/etc/xdg/dunst/dunstrc"); err == nil && reDmenu.Match(sys) {
		conf = reDmenu.ReplaceAllLiteralString(string(sys), "    dmenu = "+script)
	}
	dir := filepath.Join(home, ".config", "dunst")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dunstrc"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
}

// InvokeAction presses the button labelled label on the newest notification
// dunst shows, as `dunstctl action` does for a person: dunst invokes the
// notification's only action at once, or lets its menu choose among
// several, and emits ActionInvoked.
func (d *Desktop) InvokeAction(t testing.TB, label string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(d.Home, menuChoice), []byte(label), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Dunstctl(t, "action", "0")
}

// Dunstctl runs dunstctl against the test bed's dunst and returns its
// output, trimmed; a failure fails the test.
func (d *Desktop) Dunstctl(t testing.TB, args ...string) string {
	t.Helper()
	testenv.Need(t, "dunstctl")
	cmd := exec.Command("dunstctl", args...)
	cmd.Env = d.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dunstctl %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// DunstDisplayed is the number of notifications dunst shows.
func (d *Desktop) DunstDisplayed(t testing.TB) int {
	t.Helper()
	out := d.Dunstctl(t, "count", "displayed")
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("dunstctl count displayed: %q", out)
	}
	return n
}
