//go:build unix

package fakellamatest_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fakellamatest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testproc.Cleanup()
	os.Exit(code)
}

func runBogus(t *testing.T, path string, env []string) {
	t.Helper()
	cmd := exec.Command(path, "--bogus")
	cmd.Env = env
	var stderr, stdout bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("err = %v, want exit 1", err)
	}
	if !strings.Contains(stderr.String(), "error: invalid argument: --bogus") || stdout.Len() != 0 {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

func TestBinary(t *testing.T) {
	path := fakellamatest.Binary(t)
	if base := filepath.Base(path); !strings.HasPrefix(base, "llama-server") {
		t.Fatalf("binary named %q", base)
	}
	if again := fakellamatest.Binary(t); again != path {
		t.Fatalf("second call built again: %q vs %q", again, path)
	}
	runBogus(t, path, os.Environ())
}

// TestHelperCommand needs no TestMain hook: importing fakellamatest makes
// the re-executed test binary run the fake.
func TestHelperCommand(t *testing.T) {
	path, env := fakellamatest.HelperCommand()
	runBogus(t, path, env)
}
