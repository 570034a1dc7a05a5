//go:build linux || darwin || freebsd

package control

import "net"

// peerUID returns the uid of the process at the other end of c, as the
// kernel recorded it when that process called listen or connect.
func peerUID(c *net.UnixConn) (uid int, known bool, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { uid, cerr = sockPeerUID(int(fd)) }); err != nil {
		return 0, false, err
	}
	if cerr != nil {
		return 0, false, cerr
	}
	return uid, true, nil
}
