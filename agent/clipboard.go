package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// The clipboard is the desktop's own: its copy tool owns the selection (on
// X11 and Wayland the clipboard lives in a process, not in the server, and
// the tools fork one that keeps it after they return). A Go clipboard
// library would either need cgo (X11 through Xlib) or run these very tools.

// errNoClipboardTool says which package to install.
var errNoClipboardTool = errors.New("no clipboard tool found: install wl-clipboard (Wayland) or xclip (X11)")

// clipboardTimeout bounds a copy: the tools return as soon as they have
// read their input and handed the selection to their background process.
const clipboardTimeout = 5 * time.Second

// clipboardCommand is the command that puts its standard input on the
// clipboard of this session: wl-copy under Wayland, xclip or xsel under
// X11, pbcopy on macOS, clip on Windows.
func clipboardCommand(goos string, getenv func(string) string, lookPath func(string) (string, error)) ([]string, error) {
	try := func(argv ...string) []string {
		if _, err := lookPath(argv[0]); err == nil {
			return argv
		}
		return nil
	}
	switch goos {
	case "darwin":
		return []string{"pbcopy"}, nil
	case "windows":
		return []string{"clip"}, nil
	}
	if getenv("WAYLAND_DISPLAY") != "" {
		if argv := try("wl-copy"); argv != nil {
			return argv, nil
		}
	}
	if getenv("DISPLAY") != "" {
		if argv := try("xclip", "-selection", "clipboard", "-in"); argv != nil {
			return argv, nil
		}
		if argv := try("xsel", "--clipboard", "--input"); argv != nil {
			return argv, nil
		}
	}
	if getenv("WAYLAND_DISPLAY") == "" && getenv("DISPLAY") == "" {
		return nil, errors.New("no desktop session (neither WAYLAND_DISPLAY nor DISPLAY is set)")
	}
	return nil, errNoClipboardTool
}

// copyText puts text on the clipboard and returns when the tool has taken
// it, within clipboardTimeout. env is the tool's environment (nil: ours).
func copyText(ctx context.Context, text string, env []string) error {
	getenv := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
	if env == nil {
		getenv = os.Getenv
	}
	argv, err := clipboardCommand(runtime.GOOS, getenv, exec.LookPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, clipboardTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(text)
	// No pipes for its output: the background process that keeps the
	// selection would inherit them, and reading them would wait for it to
	// end (when something else is copied).
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return nil
}
