package testenv

import (
	"os"
	"syscall"
	"testing"
)

// MountTmpfs mounts a tmpfs of size (such as "64k") on a fresh directory
// for the test, to fill it up: a real full disk. Mounting needs root (or
// CAP_SYS_ADMIN): without it the test is skipped, with the way to run it;
// as root it must work, and a failure to mount fails the test (CI runs as
// root, so the full-disk guarantees are always checked there).
func MountTmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("cannot mount a tmpfs to fill, as root: %v", err)
		}
		t.Skipf("cannot mount a tmpfs to fill (%v): run the tests as root to cover a full disk", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}
