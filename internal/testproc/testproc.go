// Package testproc gives tests the child processes they need, in one way:
//
//   - A helper program is the test binary itself, re-executed as a named
//     child (no build step): TestMain calls RunChild for each child the
//     package's tests start, and Command (or Path and Env, for code that
//     spawns the program itself) starts one.
//   - A separate executable, where a test needs a program file of its own,
//     is built once per test process by Build.
//   - Start runs a child for a test: its output is collected as it comes,
//     and when the test ends it is stopped and reaped, so no test leaves a
//     process behind.
package testproc

import (
	"os"
	"os/exec"
	"strings"
)

// childEnv names, in a child's environment, which child it is to be.
const childEnv = "OCM_TEST_CHILD"

// RunChild makes this process the child name, if it was started as that
// child: it runs main and exits with its status. Otherwise it returns at
// once. Call it first thing in TestMain, before m.Run parses the test
// flags (a child's arguments are its own), for every child the package's
// tests start.
func RunChild(name string, main func() int) {
	if os.Getenv(childEnv) == name {
		os.Exit(main())
	}
}

// Path is the running test binary, the program of every child.
func Path() string {
	path, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return path
}

// Env is the environment that makes Path the child name: this process's
// environment, through EnvFrom.
func Env(name string) []string { return EnvFrom(os.Environ(), name) }

// EnvFrom is base with what makes Path the child name: the child named
// (replacing a name base may hold) and the race detector's exit pause off.
// A -race binary otherwise sleeps a second before every exit, and a child
// that is to exit at once would not.
func EnvFrom(base []string, name string) []string {
	var env []string
	gorace := "atexit_sleep_ms=0"
	for _, kv := range base {
		switch k, v, _ := strings.Cut(kv, "="); k {
		case childEnv:
			continue
		case "GORACE":
			gorace = strings.TrimSpace(v + " " + gorace)
			continue
		}
		env = append(env, kv)
	}
	return append(env, childEnv+"="+name, "GORACE="+gorace)
}

// Command is the child name, to be started with args.
func Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(Path(), args...)
	cmd.Env = Env(name)
	return cmd
}
