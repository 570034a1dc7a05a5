// Package fakellamatest gives tests a fake llama-server to spawn: either
// their own test binary re-executed as one (HelperCommand, no build step) or
// a separate executable named llama-server (Binary), built once per test
// process.
//
// Importing this package is enough for HelperCommand: its init runs the
// fake and exits when OCM_FAKE_LLAMA_HELPER=1, before the testing package
// parses any flag, so a TestMain is not needed (calling
// fakellama.RunIfHelper there as well does no harm).
package fakellamatest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
)

func init() {
	// A re-executed test binary becomes the fake here, before it could run
	// the tests again (and spawn itself again).
	fakellama.RunIfHelper()
}

// mainPackage is what Binary builds.
const mainPackage = "github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fake-llama-server"

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

// Binary returns the path of a fake llama-server executable, named
// "llama-server" (".exe" on Windows). The first call in a test process runs
// `go build` into a fresh temporary directory; later calls return the same
// path (or the same build error: the test fails, it is never skipped). Call
// Cleanup from TestMain after m.Run to remove the directory.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(build)
	if buildErr != nil {
		t.Fatalf("fakellamatest: %v", buildErr)
	}
	return binPath
}

func build() {
	goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first on PATH
	if err != nil {
		buildErr = fmt.Errorf("build fake llama-server: %w", err)
		return
	}
	dir, err := os.MkdirTemp("", "ocm-fakellama-")
	if err != nil {
		buildErr = fmt.Errorf("build fake llama-server: %w", err)
		return
	}
	buildDir = dir
	out := filepath.Join(dir, "llama-server")
	if runtime.GOOS == "windows" {
		out += ".exe"
	}
	cmd := exec.Command(goTool, "build", "-o", out, mainPackage)
	if msg, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build %s: %w\n%s", mainPackage, err, msg)
		return
	}
	binPath = out
}

// Cleanup removes what Binary built, if anything. Call it once the tests
// are over: code := m.Run(); fakellamatest.Cleanup(); os.Exit(code).
func Cleanup() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}

// HelperCommand returns how to start the running test binary as a fake
// llama-server: the executable's path, and the environment to give it (this
// process's environment plus OCM_FAKE_LLAMA_HELPER=1). Append FAKE_LLAMA_*
// knobs to env as needed; pass the llama-server flags as the arguments.
//
// GORACE gains atexit_sleep_ms=0: a -race test binary otherwise sleeps a
// second before every exit, and the fake's "exit 1 at once" would not be.
func HelperCommand() (path string, env []string) {
	path, err := os.Executable()
	if err != nil {
		path = os.Args[0]
	}
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	return path, append(os.Environ(), fakellama.HelperEnv+"=1", "GORACE="+gorace)
}
