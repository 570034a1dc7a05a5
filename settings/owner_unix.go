//go:build unix

package settings

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivateDir verifies that dir belongs to the current user and that
// group and others have no access to it.
func checkPrivateDir(dir string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid := os.Getuid(); int(st.Uid) != uid {
			return fmt.Errorf("runtime directory %s belongs to uid %d, not to you (uid %d): another user may have created it; remove it or set XDG_RUNTIME_DIR to a directory of yours", dir, st.Uid, uid)
		}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("runtime directory %s has mode %04o, so other users can reach it: run chmod 700 %s", dir, perm, dir)
	}
	return nil
}
