package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// built remembers what Build made in this process, by its arguments.
var built = struct {
	sync.Mutex
	dir   string
	paths map[string]*buildResult
}{paths: map[string]*buildResult{}}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// Build returns the path of an executable named name (".exe" added on
// Windows) built from the Go package pkg with the extra go build flags.
// The first call with these arguments runs go build into a temporary
// directory; later calls return the same path, or the same error. Call
// Cleanup from TestMain once the tests are over.
func Build(name, pkg string, flags ...string) (string, error) {
	key := fmt.Sprint(name, pkg, flags)
	built.Lock()
	r := built.paths[key]
	if r == nil {
		r = &buildResult{}
		built.paths[key] = r
	}
	built.Unlock()
	r.once.Do(func() { r.path, r.err = build(name, pkg, flags) })
	return r.path, r.err
}

func build(name, pkg string, flags []string) (string, error) {
	goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first on PATH
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	built.Lock()
	if built.dir == "" {
		built.dir, err = os.MkdirTemp("", "ocm-testbin-")
	}
	top := built.dir
	built.Unlock()
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	// A directory per build: two builds may both want the name llama-server.
	dir, err := os.MkdirTemp(top, "b")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	out := filepath.Join(dir, name)
	if runtime.GOOS == "windows" {
		out += ".exe"
	}
	args := append(append([]string{"build", "-o", out}, flags...), pkg)
	if msg, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return out, nil
}

// Cleanup removes what Build made. Call it once the tests are over:
// code := m.Run(); testproc.Cleanup(); os.Exit(code).
func Cleanup() {
	built.Lock()
	defer built.Unlock()
	if built.dir != "" {
		os.RemoveAll(built.dir)
		built.dir = ""
		built.paths = map[string]*buildResult{}
	}
}
