// Package fakellamatest gives tests a fake llama-server to spawn, either as
// the test binary re-executed as the child Name (HelperCommand, no build
// step) or as a separate executable named llama-server (Binary), built
// once per test process. Both come from package testproc.
//
// Importing this package is enough for HelperCommand: its init makes a
// process started as the child Name the fake and exits, before the testing
// package parses any flag, so a TestMain is not needed for it.
package fakellamatest

import (
	"os"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

// Name is the child (see testproc) that is the fake llama-server.
const Name = "fake-llama-server"

func init() {
	// A re-executed test binary becomes the fake here, before it could run
	// the tests again (and spawn itself again).
	testproc.RunChild(Name, func() int { return fakellama.Main(os.Args[1:]) })
}

// mainPackage is what Binary builds.
const mainPackage = "github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fake-llama-server"

// Binary returns the path of a fake llama-server executable, named
// "llama-server" (".exe" on Windows). The first call in a test process
// builds it; later calls return the same path (or the same build error:
// the test fails, it is never skipped). Call testproc.Cleanup from
// TestMain after m.Run to remove it.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := testproc.Build("llama-server", mainPackage)
	if err != nil {
		t.Fatalf("fakellamatest: %v", err)
	}
	return path
}

// HelperCommand returns how to start the running test binary as a fake
// llama-server: the executable's path, and the environment to give it.
// Append FAKE_LLAMA_* knobs to env as needed; pass the llama-server flags
// as the arguments.
func HelperCommand() (path string, env []string) {
	return testproc.Path(), testproc.Env(Name)
}
