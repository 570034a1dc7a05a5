//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procEvents listens to the kernel's process-event connector (netlink,
// CN_IDX_PROC; root only). It gives every fork, exec and exit on the machine
// with the kernel's own CLOCK_MONOTONIC timestamp, so "the child exited" and
// "the new child exists" are known to the microsecond without polling, and
// the same way for ocm-tray and for its peers.
type procEvents struct {
	fd     int
	offset int64 // CLOCK_REALTIME - CLOCK_MONOTONIC, ns

	mu      sync.Mutex
	fork    map[int]time.Time // process (tgid) -> when it was forked
	exec    map[int]time.Time // process -> its latest exec
	exit    map[int]time.Time // process -> when its leader thread exited
	last    map[int]time.Time // process -> when its last thread exited so far (the process is waitable after it)
	changed chan struct{}     // closed and replaced on every event
	err     error
}

const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procCnMcastIgnore = 2
	procEventFork     = 0x00000001
	procEventExec     = 0x00000002
	procEventExit     = 0x80000000
)

func startProcEvents() (*procEvents, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("netlink connector socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc, Pid: uint32(unix.Getpid())}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind netlink connector (needs root and CONFIG_PROC_EVENTS): %w", err)
	}
	if err := sendMcast(fd, procCnMcastListen); err != nil {
		unix.Close(fd)
		return nil, err
	}
	p := &procEvents{fd: fd, offset: clockOffset(), fork: map[int]time.Time{}, exec: map[int]time.Time{},
		exit: map[int]time.Time{}, last: map[int]time.Time{}, changed: make(chan struct{})}
	go p.read()
	return p, nil
}

func sendMcast(fd int, op uint32) error {
	// nlmsghdr (16) + cn_msg (20) + op (4)
	b := make([]byte, 40)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], 40)
	ne.PutUint16(b[4:], unix.NLMSG_DONE)
	ne.PutUint32(b[12:], uint32(unix.Getpid()))
	ne.PutUint32(b[16:], cnIdxProc)
	ne.PutUint32(b[20:], cnValProc)
	ne.PutUint16(b[32:], 4)
	ne.PutUint32(b[36:], op)
	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("subscribe to process events: %w", err)
	}
	return nil
}

// clockOffset is CLOCK_REALTIME - CLOCK_MONOTONIC, taken as the median of a
// few back-to-back samples.
func clockOffset() int64 {
	best := int64(0)
	bestGap := int64(1 << 62)
	for range 9 {
		var m1, r, m2 unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1)
		unix.ClockGettime(unix.CLOCK_REALTIME, &r)
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &m2)
		gap := m2.Nano() - m1.Nano()
		if gap < bestGap {
			bestGap = gap
			best = r.Nano() - (m1.Nano()+m2.Nano())/2
		}
	}
	return best
}

func (p *procEvents) wall(mono uint64) time.Time { return time.Unix(0, int64(mono)+p.offset) }

func (p *procEvents) read() {
	buf := make([]byte, 64<<10)
	ne := binary.NativeEndian
	for {
		n, _, err := unix.Recvfrom(p.fd, buf, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			if err == unix.ENOBUFS {
				p.mu.Lock()
				p.err = fmt.Errorf("process events lost (ENOBUFS)")
				p.mu.Unlock()
				continue
			}
			return // closed
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			d := m.Data
			if len(d) < 20+16 {
				continue
			}
			ev := d[20:] // past cn_msg
			what := ne.Uint32(ev[0:])
			ts := p.wall(ne.Uint64(ev[8:]))
			u := ev[16:]
			p.mu.Lock()
			switch what {
			case procEventFork:
				if len(u) >= 16 {
					childPid, childTgid := int(ne.Uint32(u[8:])), int(ne.Uint32(u[12:]))
					if childPid == childTgid { // a process, not a thread
						p.fork[childTgid] = ts
					}
				}
			case procEventExec:
				if len(u) >= 8 {
					p.exec[int(ne.Uint32(u[4:]))] = ts
				}
			case procEventExit:
				if len(u) >= 8 {
					pid, tgid := int(ne.Uint32(u[0:])), int(ne.Uint32(u[4:]))
					if pid == tgid {
						p.exit[tgid] = ts
					}
					p.last[tgid] = ts
				}
			}
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
	}
}

func (p *procEvents) close() {
	_ = sendMcast(p.fd, procCnMcastIgnore)
	unix.Close(p.fd)
}

// lookup returns the time of the event of the given kind for pid, if seen
// after "after".
func (p *procEvents) lookup(kind string, pid int, after time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var m map[int]time.Time
	switch kind {
	case "fork":
		m = p.fork
	case "exec":
		m = p.exec
	case "last":
		m = p.last
	default:
		m = p.exit
	}
	t, ok := m[pid]
	if !ok || t.Before(after) {
		return time.Time{}, false
	}
	return t, true
}

// wait waits up to d for lookup(kind, pid, after) to succeed.
func (p *procEvents) wait(kind string, pid int, after time.Time, d time.Duration) (time.Time, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		if t, ok := p.lookup(kind, pid, after); ok {
			return t, true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return p.lookup(kind, pid, after)
		}
	}
}

func (p *procEvents) lostEvents() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
