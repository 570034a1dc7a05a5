//go:build unix

package regular

import "syscall"

// nonBlock makes opening a FIFO return at once (for writing, with ENXIO
// when nobody reads it); on a regular file it changes nothing.
const nonBlock = syscall.O_NONBLOCK
