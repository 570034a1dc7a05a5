package agent

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// Copy server URL on a real X display: what xclip holds afterwards is the URL.
func TestCopyTextOnX11(t *testing.T) {
	testenv.Need(t, "xclip")
	d := desktoptest.Start(t)
	env := append(d.Env(), "DISPLAY="+d.Display, "WAYLAND_DISPLAY=")
	const url = "http://127.0.0.1:8080"
	if err := copyText(t.Context(), url, env); err != nil {
		t.Fatal(err)
	}
	out := exec.Command("xclip", "-selection", "clipboard", "-out")
	out.Env = env
	b, err := out.Output()
	if err != nil || strings.TrimSpace(string(b)) != url {
		t.Fatalf("clipboard holds %q (%v), want %q", b, err, url)
	}
}
