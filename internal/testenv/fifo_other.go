//go:build !unix

package testenv

import "testing"

// Mkfifo makes a named pipe at path; where there are none, it skips t.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	t.Skip("no named pipes in this file system")
}
