//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package control

import (
	"fmt"
	"syscall"
)

// maxSocketPath is the longest path a unix socket can be bound or reached
// at: sun_path (108 bytes on Linux, 104 on macOS and the BSDs) less its
// terminating NUL.
const maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// CheckSocketPath says, in one sentence that names the fix, when path is
// too long to bind or reach a unix socket at. Without it the system's
// answer is a bare "invalid argument". Listen and Dial check it; the
// command line checks it before anything else, so that it never reports
// "no agent" where no agent could ever run.
func CheckSocketPath(path string) error {
	if len(path) > maxSocketPath {
		return fmt.Errorf("the control socket path %s is %d bytes, more than the %d a unix socket allows: set XDG_RUNTIME_DIR to a shorter directory", path, len(path), maxSocketPath)
	}
	return nil
}
