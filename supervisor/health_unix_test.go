//go:build unix

package supervisor

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
)

// Right after a server on the port closed, the port sits in TIME-WAIT: a
// plain bind(2) fails with EADDRINUSE, yet nothing listens. portAnswers
// connects, so it says "free", as it must: llama-server binds with
// SO_REUSEADDR and would start fine.
func TestPortAnswersFalseInTimeWait(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	// The server side closes first, so it is the side left in TIME-WAIT,
	// holding the listening port.
	s.Close()
	io.Copy(io.Discard, c) // until its FIN
	c.Close()
	l.Close()

	if err := bindWithoutReuse(port); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("premise: bind without SO_REUSEADDR = %v, want EADDRINUSE (TIME-WAIT)", err)
	}
	if portAnswers(t.Context(), "127.0.0.1", port) {
		t.Fatal("portAnswers = true for a port in TIME-WAIT with nothing listening")
	}
}

// bindWithoutReuse binds a TCP socket to 127.0.0.1:port the plain way (Go's
// net.Listen sets SO_REUSEADDR, which would succeed) and closes it.
func bindWithoutReuse(port int) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	return syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
}
