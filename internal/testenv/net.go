package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// FreePort returns a loopback TCP port that was free a moment ago, for a
// server under test to listen on.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a throw-away TCP server standing for whatever the code under
// test may meet on a port: a foreign program holding it, or a hostile or
// broken HTTP server. It hands each connection to its handler on a
// goroutine of its own and closes the connection when the handler returns.
type Server struct {
	// Addr is the address it listens on, host:port.
	Addr string
	// Port is Addr's port.
	Port int

	l      net.Listener
	handle func(net.Conn)
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

// Listen starts a Server on addr ("127.0.0.1:0" for any free port). Close
// stops it; unlike Serve, it leaves stopping to the caller and returns the
// error of a port that is taken.
func Listen(addr string, handle func(net.Conn)) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: l.Addr().String(), Port: l.Addr().(*net.TCPAddr).Port, l: l, handle: handle, conns: map[net.Conn]bool{}}
	s.wg.Go(s.accept)
	return s, nil
}

// Serve starts a Server on addr that stops when the test ends, and fails
// the test if it cannot listen.
func Serve(t testing.TB, addr string, handle func(net.Conn)) *Server {
	t.Helper()
	s, err := Listen(addr, handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *Server) accept() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.handle(c)
		})
	}
}

// Close stops listening, closes every open connection (which ends a
// handler blocked on it) and waits for the handlers to return. It may be
// called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.l.Close()
	s.wg.Wait()
}

// HangUp is a handler that closes each connection at once: a program that
// holds the port and accepts, but speaks no HTTP.
func HangUp(net.Conn) {}

// NeverAnswer is a handler that reads what comes and never writes: a
// server that is wedged (busy, or stopped by SIGSTOP) but whose kernel
// still accepts connections.
func NeverAnswer(c net.Conn) { io.Copy(io.Discard, c) }
