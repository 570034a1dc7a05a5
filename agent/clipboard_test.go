package agent

import (
	"errors"
	"slices"
	"testing"
)

func TestClipboardCommand(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	have := func(progs ...string) func(string) (string, error) {
		return func(p string) (string, error) {
			if slices.Contains(progs, p) {
				return "/usr/bin/" + p, nil
			}
			return "", errors.New("not found")
		}
	}
	tests := []struct {
		name   string
		goos   string
		getenv func(string) string
		look   func(string) (string, error)
		want   []string
		err    bool
	}{
		{"wayland", "linux", env("WAYLAND_DISPLAY", "wayland-0", "DISPLAY", ":0"), have("wl-copy", "xclip"), []string{"wl-copy"}, false},
		{"wayland without wl-copy: XWayland's clipboard", "linux", env("WAYLAND_DISPLAY", "wayland-0", "DISPLAY", ":0"), have("xclip"), []string{"xclip", "-selection", "clipboard", "-in"}, false},
		{"x11 xclip", "linux", env("DISPLAY", ":0"), have("xclip", "xsel"), []string{"xclip", "-selection", "clipboard", "-in"}, false},
		{"x11 xsel", "linux", env("DISPLAY", ":0"), have("xsel"), []string{"xsel", "--clipboard", "--input"}, false},
		{"x11 no tool", "linux", env("DISPLAY", ":0"), have(), nil, true},
		{"no session", "linux", env(), have("xclip"), nil, true},
		{"macOS", "darwin", env(), have(), []string{"pbcopy"}, false},
		{"windows", "windows", env(), have(), []string{"clip"}, false},
	}
	for _, tt := range tests {
		got, err := clipboardCommand(tt.goos, tt.getenv, tt.look)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, %v; want %v (error %v)", tt.name, got, err, tt.want, tt.err)
		}
	}
	if _, err := clipboardCommand("linux", env("DISPLAY", ":0"), have()); !errors.Is(err, errNoClipboardTool) {
		t.Errorf("the error does not say what to install: %v", err)
	}
}
