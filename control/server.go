package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

const (
	// requestTimeout bounds the wait for the request line, so an idle
	// client cannot pin a goroutine.
	requestTimeout = 5 * time.Second
	// writeTimeout bounds each write; a watcher that stops reading is cut
	// off by it (and, sooner, by the supervisor's bounded queue).
	writeTimeout = 10 * time.Second
	// closeGrace bounds the writes Close still lets through: the answers to
	// pending quits and the last lines of watch streams.
	closeGrace = 2 * time.Second
	// maxRequests caps the connections served at once that are not
	// watching: those waiting for their request line and those being
	// answered. maxWatchers caps the watch streams, separately, so that
	// watchers, however many, never keep a status, stop or quit out.
	maxRequests = 64
	maxWatchers = 64
	// watchBuffer is how many status changes a watcher may fall behind.
	watchBuffer = 64
	// probeTimeout bounds Listen's check whether someone answers on an
	// existing socket file.
	probeTimeout = time.Second
)

// Server answers requests on the control socket. Build it with Listen, run
// Serve in a goroutine of its own, and call Close once the supervisor's Run
// has returned.
type Server struct {
	src  Source
	quit func()
	log  *slog.Logger
	ln   net.Listener
	// unlink removes what listen left on disk (the socket file, if it is
	// still the one we bound); Close calls it last.
	unlink func() error

	requestTimeout time.Duration // a field so tests can shorten it
	maxRequests    int
	maxWatchers    int

	quitOnce sync.Once
	closing  chan struct{} // closed by Close

	mu            sync.Mutex
	closed        bool
	closeDeadline time.Time
	conns         map[net.Conn]bool // true once the connection is a watcher
	watchers      int               // the conns that are watchers
	serveWG       sync.WaitGroup    // Serve calls
	connWG        sync.WaitGroup    // connection goroutines
}

// Listen binds the control socket at socketPath (from Address), mode 0600. A
// socket file already there is removed only if nobody answers on it (an
// agent that died left it); a live socket or a file that is not a socket is
// an error. On Windows socketPath names a named pipe that admits this user
// alone. Hold the Lock before calling it.
//
// quit is called, at most once, when a client sends "quit"; it must not
// block (cancelling the agent's context is typical). The client's answer
// waits for Close. A nil log discards.
func Listen(socketPath string, src Source, quit func(), log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if quit == nil {
		quit = func() {}
	}
	if err := CheckSocketPath(socketPath); err != nil {
		return nil, err
	}
	ln, unlink, err := listen(socketPath)
	if err != nil {
		return nil, err
	}
	return &Server{
		src:            src,
		quit:           quit,
		log:            log,
		ln:             ln,
		unlink:         unlink,
		requestTimeout: requestTimeout,
		maxRequests:    maxRequests,
		maxWatchers:    maxWatchers,
		closing:        make(chan struct{}),
		conns:          map[net.Conn]bool{},
	}, nil
}

// Serve accepts connections until ctx is done or Close is called, and
// returns once the accept loop stopped and every connection goroutine ended.
// After ctx is done no connection is accepted (a client then sees
// ErrNoAgent), but the ones already accepted run on: a watch stream until
// the supervisor's final stopped line, a pending quit until Close answers it.
// So run Serve in its own goroutine and call Close after the supervisor's
// Run returned. It returns nil when stopped by ctx or Close, an error only
// if accepting failed for good (running out of descriptors is retried).
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.serveWG.Add(1)
	s.mu.Unlock()
	defer s.serveWG.Done()

	// Closing the listener is how both ctx and Close end Accept.
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()

	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err == nil {
			backoff = 0
			s.serveConn(nc)
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			break // ctx or Close
		}
		if !retryAccept(err) {
			s.connWG.Wait()
			return fmt.Errorf("control socket: accept: %w", err)
		}
		// Out of file descriptors and the like: wait a little and retry,
		// as net/http does, rather than spin or give up.
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		s.log.Warn("control socket: accept failed", "err", err, "retry_in", backoff)
		if !s.pause(ctx, backoff) {
			break
		}
	}
	s.connWG.Wait()
	return nil
}

// pause waits d; false if ctx or Close ended the wait.
func (s *Server) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

// retryAccept reports whether an accept error is worth retrying: resource
// exhaustion passes, a peer that gave up before we accepted concerns only it.
func retryAccept(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// serveConn starts a connection's goroutine, or turns the connection away
// when the server is closing or serving too many requests. Watchers do not
// count here: they have their own cap (startWatch).
func (s *Server) serveConn(nc net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns)-s.watchers >= s.maxRequests {
		s.mu.Unlock()
		s.log.Warn("control socket: too many requests at once", "max", s.maxRequests)
		// A fresh socket's send buffer is empty: this write does not block.
		nc.SetWriteDeadline(time.Now().Add(closeGrace))
		nc.Write(append(errorLine(fmt.Sprintf("too many requests at once (max %d)", s.maxRequests)), '\n'))
		nc.Close()
		return
	}
	s.conns[nc] = false
	nc.SetReadDeadline(time.Now().Add(s.requestTimeout))
	s.connWG.Add(1)
	s.mu.Unlock()
	go s.handle(nc)
}

func (s *Server) handle(nc net.Conn) {
	defer s.connWG.Done()
	defer func() {
		nc.Close()
		s.mu.Lock()
		if s.conns[nc] {
			s.watchers--
		}
		delete(s.conns, nc)
		s.mu.Unlock()
	}()

	br := bufio.NewReaderSize(nc, maxRequest)
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		s.write(nc, errorLine(fmt.Sprintf("request longer than %d bytes", maxRequest)))
		return
	case errors.Is(err, io.EOF) && len(line) > 0:
		// A last line without its newline is still a request.
	case err != nil:
		s.log.Debug("control socket: no request", "err", err)
		return
	}
	var req request
	if err := json.Unmarshal(bytes.TrimSpace(line), &req); err != nil {
		s.write(nc, errorLine(fmt.Sprintf("bad request: %v", err)))
		return
	}
	s.log.Debug("control socket: request", "cmd", req.Cmd)

	switch req.Cmd {
	case cmdStatus:
		b, err := statusLine(s.src.Hub.Status())
		if err != nil {
			b = errorLine(err.Error())
		}
		s.write(nc, b)
	case cmdStart:
		s.src.Controls.Start()
		s.write(nc, okLine)
	case cmdStop:
		s.src.Controls.Stop()
		s.write(nc, okLine)
	case cmdRestart:
		s.src.Controls.Restart()
		s.write(nc, okLine)
	case cmdQuit:
		s.quitOnce.Do(s.quit)
		// The answer means "the child is reaped and the agent is exiting":
		// only Close, called after the supervisor's Run returned, may say so.
		<-s.closing
		s.write(nc, okLine)
	case cmdWatch:
		if !s.startWatch(nc) {
			s.log.Warn("control socket: too many watchers", "max", s.maxWatchers)
			s.write(nc, errorLine(fmt.Sprintf("too many watchers (max %d)", s.maxWatchers)))
			return
		}
		s.watch(nc)
	case cmdUse, cmdLoad, cmdUnload:
		s.write(nc, s.modelRequest(req))
	default:
		s.write(nc, errorLine(fmt.Sprintf("unknown command %q", req.Cmd)))
	}
}

// startWatch moves nc from the requests to the watchers; false when the
// watchers are at their cap.
func (s *Server) startWatch(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watchers >= s.maxWatchers {
		return false
	}
	s.conns[nc] = true
	s.watchers++
	return true
}

// watch streams status changes until the feed ends, the peer goes away or
// the server closes.
func (s *Server) watch(nc net.Conn) {
	feed := s.src.Hub.Subscribe(watchBuffer)
	defer feed.Close()

	// The peer sends nothing more; a read that ends means it went away (or
	// Close interrupted the read). Without this a watcher that vanished
	// would be noticed only at the next status change, maybe hours later.
	s.setReadDeadline(nc, time.Time{})
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		io.Copy(io.Discard, nc)
	}()
	defer func() {
		nc.Close() // ends the reader
		<-gone
	}()

	events := feed.C
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				s.endWatch(nc, feed.Err())
				return
			}
			if !s.writeEvent(nc, ev) {
				return
			}
		case <-gone:
			select {
			case <-s.closing: // Close interrupted the read: the peer is still there
				s.drain(nc, feed)
			default:
				s.log.Debug("control socket: watcher went away")
			}
			return
		case <-s.closing:
			s.drain(nc, feed)
			return
		}
	}
}

// drain writes what the feed already holds. Close is called after the
// supervisor's Run returned, so its final stopped line is there, and the
// feed is closed behind it: the watcher gets the end of the story.
func (s *Server) drain(nc net.Conn, feed *status.Subscription) {
	events := feed.C
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				s.endWatch(nc, feed.Err())
				return
			}
			if !s.writeEvent(nc, ev) {
				return
			}
		default:
			return
		}
	}
}

func (s *Server) endWatch(nc net.Conn, err error) {
	if err != nil {
		s.log.Info("control socket: watcher cut off", "err", err)
		s.write(nc, errorLine(err.Error()))
	}
}

func (s *Server) writeEvent(nc net.Conn, ev status.Event) bool {
	b, err := watchLine(ev)
	if err != nil {
		s.write(nc, errorLine(err.Error()))
		return false
	}
	return s.write(nc, b)
}

// write sends one line; false when the peer is gone or too slow.
func (s *Server) write(nc net.Conn, line []byte) bool {
	s.armWrite(nc)
	if _, err := nc.Write(append(line, '\n')); err != nil {
		s.log.Debug("control socket: write failed", "err", err)
		return false
	}
	return true
}

// armWrite sets the deadline for the next write: writeTimeout from now, or
// the close deadline once Close began. It holds mu so that it cannot undo
// the deadline Close set.
func (s *Server) armWrite(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := time.Now().Add(writeTimeout)
	if s.closed {
		d = s.closeDeadline
	}
	nc.SetWriteDeadline(d)
}

// setReadDeadline is SetReadDeadline that cannot undo Close's interruption.
func (s *Server) setReadDeadline(nc net.Conn, d time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		d = time.Unix(1, 0)
	}
	nc.SetReadDeadline(d)
}

// Close shuts the server down; call it after the supervisor's Run returned,
// i.e. once the child is reaped. It answers every pending quit with ok, lets
// watch streams write the lines their feed still holds (each write bounded
// by a short grace), closes the listener and every connection, waits for
// every goroutine the server started (Serve's accept loop included), and
// removes the socket file if it is still the one Listen bound. Safe to call
// more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.serveWG.Wait()
		s.connWG.Wait()
		return nil
	}
	s.closed = true
	s.closeDeadline = time.Now().Add(closeGrace)
	// closing is closed before any read is interrupted, so a watch that
	// sees its reader end can tell Close from a vanished peer.
	close(s.closing)
	past := time.Unix(1, 0)
	for nc := range s.conns {
		nc.SetReadDeadline(past)
		nc.SetWriteDeadline(s.closeDeadline)
	}
	s.mu.Unlock()

	s.ln.Close() // error ignored: ctx may have closed it already
	s.serveWG.Wait()
	s.connWG.Wait()

	return s.unlink()
}
