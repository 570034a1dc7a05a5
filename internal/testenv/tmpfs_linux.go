package testenv

import (
	"syscall"
	"testing"
)

// MountTmpfs mounts a tmpfs of size (such as "64k") on a fresh directory
// for the test, to fill it up: a real full disk. It skips the test when this
// process may not mount (that needs root or CAP_SYS_ADMIN), even under
// CI=true: a container without the right cannot be given it by the tests.
func MountTmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v): run the tests as root to cover a full disk", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}
