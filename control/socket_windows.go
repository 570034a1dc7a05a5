//go:build windows

package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows the control channel is a named pipe, not an AF_UNIX socket:
// Windows does not enforce a socket file's permissions the way the Unix side
// relies on, while a pipe carries a security descriptor of its own. The line
// protocol over it is the same.
//
// The listener is written against the Win32 pipe calls directly: they are
// few, and go-winio's listener, built on the native NT calls, never accepts
// a client under Wine, where the Windows build is tested.

// pipePrefix starts the pipe's name; the user's SID completes it, so each
// user of the machine has a pipe of their own.
const pipePrefix = `\\.\pipe\ocm-tray-`

// pipeBuffer is the pipe's buffer size each way: a request is at most 4 KiB.
const pipeBuffer = 64 << 10

// Address returns where the agent of this user listens: the named pipe
// \\.\pipe\ocm-tray-<user SID>. The socket path plays no part: pipes live
// in a namespace of their own.
func Address(string) (string, error) {
	sid, err := userSID()
	if err != nil {
		return "", err
	}
	return pipePrefix + sid.String(), nil
}

// userSID is the SID of the user this process runs as.
func userSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("control pipe: who am I: %w", err)
	}
	return tu.User.Sid, nil
}

// listen creates the pipe's first instance with a security descriptor that
// makes this user its owner and grants this user alone (a protected DACL:
// nothing is inherited, so not even administrators get an entry). It must
// be the first instance: a pipe of that name held by anyone else, an agent
// or a squatter, is an error rather than a pipe we would share. Nothing
// stays on disk, so unlink does nothing.
func listen(name string) (ln net.Listener, unlink func() error, err error) {
	sid, err := userSID()
	if err != nil {
		return nil, nil, err
	}
	sd, err := windows.SecurityDescriptorFromString("O:" + sid.String() + "D:P(A;;GA;;;" + sid.String() + ")")
	if err != nil {
		return nil, nil, fmt.Errorf("control pipe: security descriptor: %w", err)
	}
	name16, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, nil, fmt.Errorf("control pipe %q: %w", name, err)
	}
	closeEv, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("control pipe: %w", err)
	}
	l := &pipeListener{
		name: name, name16: name16, closeEv: closeEv,
		sa: &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd},
	}
	if l.next, err = l.instance(true); err != nil {
		windows.CloseHandle(closeEv)
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) {
			return nil, nil, fmt.Errorf("control pipe %s is already taken (another agent, or another program): %w", name, err)
		}
		return nil, nil, fmt.Errorf("control pipe %s: %w", name, err)
	}
	return l, func() error { return nil }, nil
}

// pipeListener hands out one pipe instance per client. An instance waits for
// the next client at all times, so a client never finds the pipe missing
// while an agent runs.
type pipeListener struct {
	name    string
	name16  *uint16
	sa      *windows.SecurityAttributes
	mu      sync.Mutex     // one Accept at a time; Close waits for it
	closeEv windows.Handle // set by Close to wake a waiting Accept, then closed
	next    windows.Handle
	closed  bool
	once    sync.Once
}

func (l *pipeListener) instance(first bool) (windows.Handle, error) {
	flags := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		flags |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	return windows.CreateNamedPipe(l.name16, flags,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		windows.PIPE_UNLIMITED_INSTANCES, pipeBuffer, pipeBuffer, 0, l.sa)
}

// Accept waits for a client on the waiting instance, puts a fresh instance
// in its place and returns the connected one. After Close it returns
// net.ErrClosed.
func (l *pipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, net.ErrClosed
	}
	h := l.next
	if h == 0 { // making the last one failed
		var err error
		if h, err = l.instance(false); err != nil {
			return nil, fmt.Errorf("control pipe: %w", err)
		}
	}
	l.next = 0
	if err := l.connect(h); err != nil {
		windows.CloseHandle(h)
		if errors.Is(err, net.ErrClosed) {
			l.closed = true
		}
		return nil, err
	}
	// On failure the next Accept tries again.
	l.next, _ = l.instance(false)
	return newPipeConn(h, l.name), nil
}

// connect waits until a client opens h, or Close.
func (l *pipeListener) connect(h windows.Handle) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(ev)
	ov := windows.Overlapped{HEvent: ev}
	err = windows.ConnectNamedPipe(h, &ov)
	switch {
	case err == nil, errors.Is(err, windows.ERROR_PIPE_CONNECTED):
		return nil
	case !errors.Is(err, windows.ERROR_IO_PENDING):
		return err
	}
	which, err := windows.WaitForMultipleObjects([]windows.Handle{ev, l.closeEv}, false, windows.INFINITE)
	if err != nil {
		windows.CancelIoEx(h, &ov)
	} else if which == windows.WAIT_OBJECT_0+1 {
		windows.CancelIoEx(h, &ov)
		err = net.ErrClosed
	}
	// The kernel writes into ov until the operation ends; wait for that.
	var n uint32
	if e := windows.GetOverlappedResult(h, &ov, &n, true); err == nil {
		err = e
	}
	return err
}

// Close stops Accept and closes the waiting instance; connections already
// accepted stay open.
func (l *pipeListener) Close() error {
	l.once.Do(func() { windows.SetEvent(l.closeEv) })
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.next != 0 {
		windows.CloseHandle(l.next)
		l.next = 0
	}
	// Accept returned (it holds mu while it waits): nobody waits on it now.
	if l.closeEv != 0 {
		windows.CloseHandle(l.closeEv)
		l.closeEv = 0
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.name) }

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// pipeConn is one end of a connected pipe instance. os.File brings the
// reads, writes and deadlines (the handle is overlapped, so they go through
// Go's poller).
type pipeConn struct {
	*os.File
	addr pipeAddr
}

func newPipeConn(h windows.Handle, name string) *pipeConn {
	return &pipeConn{File: os.NewFile(uintptr(h), name), addr: pipeAddr(name)}
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.addr }
func (c *pipeConn) RemoteAddr() net.Addr { return c.addr }

// dialAddr opens the pipe, waiting up to timeout while every instance is
// busy, and checks that this user owns it: anyone can create a pipe of any
// free name, and the CLI must not take another user's pipe for its agent.
func dialAddr(name string, timeout time.Duration) (net.Conn, error) {
	name16, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, fmt.Errorf("control pipe %q: %w", name, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		// Anonymous: the agent has no business acting as its client.
		h, err := windows.CreateFile(name16, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_ANONYMOUS, 0)
		if err == nil {
			if err := checkOwner(h); err != nil {
				windows.CloseHandle(h)
				return nil, fmt.Errorf("control pipe %s: %w", name, err)
			}
			return newPipeConn(h, name), nil
		}
		if !errors.Is(err, windows.ERROR_PIPE_BUSY) || time.Now().After(deadline) {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		// Every instance is taken for the moment: the agent makes a new
		// one right after each accept. Windows' WaitNamedPipe would do the
		// same polling, with less control over the deadline.
		time.Sleep(5 * time.Millisecond)
	}
}

func checkOwner(h windows.Handle) error {
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("reading its owner: %w", err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("reading its owner: %w", err)
	}
	me, err := userSID()
	if err != nil {
		return err
	}
	if owner == nil || !owner.Equals(me) {
		return fmt.Errorf("owned by %v, not by this user (%v): not trusting it", owner, me)
	}
	return nil
}

// isNoAgent reports whether a dial error means nobody listens: no pipe of
// that name.
func isNoAgent(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// isReset reports whether err says the peer closed the pipe abruptly.
func isReset(err error) bool {
	return errors.Is(err, windows.ERROR_BROKEN_PIPE) || errors.Is(err, windows.ERROR_NO_DATA) ||
		errors.Is(err, windows.ERROR_PIPE_NOT_CONNECTED)
}
