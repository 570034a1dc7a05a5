package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// ErrNoAgent means nobody answers on the control socket: no agent of this
// user is running. The CLI maps it to exit code 3.
var ErrNoAgent = errors.New("no ocm-tray agent is running")

// dialTimeout bounds a connect; a unix socket answers at once or never.
const dialTimeout = 5 * time.Second

// Client talks to a running agent. Each request uses a connection of its
// own (the server answers one request per connection); the first reuses the
// one Dial opened. Safe for concurrent use.
type Client struct {
	path string

	mu     sync.Mutex
	spare  net.Conn              // opened by Dial, not used yet
	active map[net.Conn]struct{} // in use by a request; Close cuts them
	closed bool
}

// Dial connects to the agent's control socket. When nobody answers the
// error wraps ErrNoAgent. A socket served by another user is refused: the
// runtime directory is private, but a socket is trusted only when the
// kernel says the process behind it is ours, so that no other user can
// answer `status` or receive `stop` and `quit` in our agent's place.
func Dial(socketPath string) (*Client, error) {
	nc, err := dial(socketPath)
	if err != nil {
		return nil, err
	}
	return &Client{path: socketPath, spare: nc, active: map[net.Conn]struct{}{}}, nil
}

func dial(path string) (net.Conn, error) {
	if err := CheckSocketPath(path); err != nil {
		return nil, err
	}
	nc, err := dialAddr(path, dialTimeout)
	if err != nil {
		if isNoAgent(err) {
			return nil, fmt.Errorf("%w (nobody answers on %s)", ErrNoAgent, path)
		}
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := checkPeer(nc, path); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

// checkPeer refuses a socket whose listener runs as another user.
func checkPeer(nc net.Conn, path string) error {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return nil
	}
	uid, known, err := peerUID(uc)
	if err != nil {
		return fmt.Errorf("control socket %s: reading who serves it: %w", path, err)
	}
	if me := os.Getuid(); known && uid != me {
		return fmt.Errorf("control socket %s is served by uid %d, not by you (uid %d): not talking to it; another user may have put it there (remove it, or set XDG_RUNTIME_DIR to a directory of yours)", path, uid, me)
	}
	return nil
}

// Close closes the client and cuts any request in flight.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	if c.spare != nil {
		errs = append(errs, c.spare.Close())
		c.spare = nil
	}
	for nc := range c.active {
		nc.Close()
	}
	return errors.Join(errs...)
}

// exchange is one request on a connection of its own.
type exchange struct {
	c    *Client
	nc   net.Conn
	br   *bufio.Reader
	ctx  context.Context
	stop func() bool
	// werr is the error writing the request, if any. The exchange stays
	// usable: the agent may have answered before it closed (e.g. "too many
	// connections"), so the reply is still read.
	werr error
}

// send opens a connection (or takes Dial's), ties it to ctx and writes the
// request line.
func (c *Client) send(ctx context.Context, req request) (*exchange, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("control client is closed")
	}
	nc := c.spare
	c.spare = nil
	c.mu.Unlock()
	if nc == nil {
		var err error
		if nc, err = dial(c.path); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		nc.Close()
		return nil, errors.New("control client is closed")
	}
	c.active[nc] = struct{}{}
	c.mu.Unlock()

	x := &exchange{c: c, nc: nc, br: bufio.NewReader(nc), ctx: ctx}
	// A deadline in the past wakes any read or write blocked on nc.
	x.stop = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	_, x.werr = nc.Write(requestLine(req))
	return x, nil
}

func (x *exchange) close() {
	x.stop()
	x.nc.Close()
	x.c.mu.Lock()
	delete(x.c.active, x.nc)
	x.c.mu.Unlock()
}

// readLine reads one reply line; ctx's error wins over the I/O error it caused.
func (x *exchange) readLine() ([]byte, error) {
	line, err := readLine(x.br, maxReply)
	if err != nil && x.ctx.Err() != nil {
		return nil, x.ctx.Err()
	}
	return line, err
}

// Status asks the agent for its current status.
func (c *Client) Status(ctx context.Context) (status.Status, error) {
	x, err := c.send(ctx, request{Cmd: cmdStatus})
	if err != nil {
		return status.Status{}, err
	}
	defer x.close()
	line, err := x.readLine()
	if err != nil {
		return status.Status{}, replyError(err, x.werr)
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return status.Status{}, fmt.Errorf("control socket: bad reply %q: %w", line, err)
	}
	if r.Error != nil {
		return status.Status{}, agentError(*r.Error)
	}
	var st status.Status
	if err := json.Unmarshal(line, &st); err != nil {
		return status.Status{}, fmt.Errorf("control socket: bad status %q: %w", line, err)
	}
	return st, nil
}

// Do sends "start", "stop", "restart" or "quit". The first three return
// once the agent accepted the request. quit returns once the agent answered
// that its child is reaped and it is exiting, or when the connection closed
// without an answer (the agent exited first): both are success.
func (c *Client) Do(ctx context.Context, cmd string) error {
	switch cmd {
	case cmdStart, cmdStop, cmdRestart, cmdQuit:
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	x, err := c.send(ctx, request{Cmd: cmd})
	if err != nil {
		return err
	}
	defer x.close()
	line, err := x.readLine()
	if err != nil {
		if cmd == cmdQuit && ctx.Err() == nil && connEnded(err) {
			return nil
		}
		return replyError(err, x.werr)
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("control socket: bad reply %q: %w", line, err)
	}
	if r.Error != nil {
		return agentError(*r.Error)
	}
	if !r.OK {
		return fmt.Errorf("control socket: unexpected reply %q", line)
	}
	return nil
}

// Watch streams status changes to fn, the current status first. line is
// the agent's JSON object verbatim (with "at", without the newline), fresh
// for each call; ev is the same, parsed. Watch returns nil when the agent
// stopped (the stream ended after a stopped line), fn's error if fn fails,
// ctx's error when ctx ends, and an error wrapping
// status.ErrSlowSubscriber when the agent cut a slow watcher off.
func (c *Client) Watch(ctx context.Context, fn func(line []byte, ev status.Event) error) error {
	x, err := c.send(ctx, request{Cmd: cmdWatch})
	if err != nil {
		return err
	}
	defer x.close()
	var last status.State
	for {
		line, err := x.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if last == status.Stopped {
					return nil
				}
				return errors.New("control socket: the agent ended the watch stream before it stopped")
			}
			return replyError(err, x.werr)
		}
		var r reply
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("control socket: bad reply %q: %w", line, err)
		}
		if r.Error != nil {
			return agentError(*r.Error)
		}
		ev := status.Event{}
		if err := json.Unmarshal(line, &ev.Status); err != nil {
			return fmt.Errorf("control socket: bad status %q: %w", line, err)
		}
		if ev.At, err = time.Parse(status.SinceFormat, r.At); err != nil {
			return fmt.Errorf("control socket: bad \"at\" in %q: %w", line, err)
		}
		if err := fn(line, ev); err != nil {
			return err
		}
		last = ev.Status.State
	}
}

// connEnded reports whether a read error means the agent closed the
// connection (with or without unread data on its side).
func connEnded(err error) bool {
	return errors.Is(err, io.EOF) || isReset(err)
}

// replyError explains a reply that never came.
func replyError(readErr, writeErr error) error {
	if connEnded(readErr) {
		if writeErr != nil {
			return fmt.Errorf("control socket: sending the request: %w", writeErr)
		}
		return errors.New("control socket: the agent closed the connection without answering")
	}
	if errors.Is(readErr, context.Canceled) || errors.Is(readErr, context.DeadlineExceeded) {
		return readErr
	}
	if errors.Is(readErr, errLineTooLong) {
		return fmt.Errorf("control socket: the agent's reply is longer than %d KiB, far more than any status; not reading it (is the agent the same version as this command?)", maxReply>>10)
	}
	return fmt.Errorf("control socket: %w", readErr)
}
