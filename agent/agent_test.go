package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/adrg/xdg"

	"github.com/OpenCircuitDev/ocm-tray/control"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fakellamatest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
	"github.com/OpenCircuitDev/ocm-tray/settings"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testproc.Cleanup()
	os.Exit(code)
}

func TestChooseSettings(t *testing.T) {
	for _, tc := range []struct {
		valid, haveGood bool
		want            choice
	}{
		{valid: true, haveGood: true, want: useLoaded},
		{valid: true, haveGood: false, want: useLoaded},
		{valid: false, haveGood: true, want: keepLastGood}, // a bad edit never stops the server
		{valid: false, haveGood: false, want: refuseAll},   // invalid at start: spawn nothing
	} {
		if got := chooseSettings(tc.valid, tc.haveGood); got != tc.want {
			t.Errorf("chooseSettings(valid=%v, haveGood=%v) = %v, want %v", tc.valid, tc.haveGood, got, tc.want)
		}
	}
}

// TestRunHeadless wires the real agent in-process in temporary XDG
// directories: the fake llama-server comes up, the control socket answers
// with its pid, and cancelling Run reaps the child before Run returns.
func TestRunHeadless(t *testing.T) {
	root := testenv.ShortTempDir(t) // short: the socket path must fit
	for _, v := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"} {
		dir := filepath.Join(root, v)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv(v, dir)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(root, "no-bus")) // no notifications
	xdg.Reload()
	t.Cleanup(xdg.Reload)

	paths, err := settings.ResolvePaths("")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(paths.ModelsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fakellama.WriteModel(filepath.Join(paths.ModelsDir, "tiny.gguf")); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	if err := os.MkdirAll(filepath.Dir(paths.ConfigFile), 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("backend = \"llamacpp\"\nmodel_id = \"tiny\"\ninference_base_url = \"http://127.0.0.1:%d\"\nllama_server_binary = %q\n",
		port, fakellamatest.Binary(t))
	if err := os.WriteFile(paths.ConfigFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Headless: true, Stderr: io.Discard}) }()

	var pid int
	testenv.Eventually(t, "the agent to report llama-server running", func() bool {
		if c, err := control.Dial(paths.Socket()); err == nil {
			st, err := c.Status(ctx)
			c.Close()
			if err == nil && st.State == status.Running {
				pid = st.PID
			}
		}
		return pid != 0
	})
	if !testproc.Alive(pid) {
		t.Fatalf("running pid %d is not alive", pid)
	}

	cancel()
	if err := testenv.Recv(t, done, "Run to return after cancel"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Run returns only after the child is reaped: it is gone already.
	if testproc.Alive(pid) {
		t.Fatalf("llama-server %d outlived Run", pid)
	}
	if _, err := os.Stat(paths.Socket()); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
