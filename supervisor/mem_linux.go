package supervisor

import (
	"bytes"
	"os"
	"strconv"
)

// memReader reads the resident memory (RSS) of a child and of the
// processes it started, such as a router's model servers, from /proc. Only
// the goroutine of the health check that carries it uses it.
//
// Reading a process's statm costs a few microseconds; finding its
// descendants means reading one file per thread (llama-server runs dozens),
// so they are looked for again only every rescanEvery readings, and at once
// when one of them has gone.
type memReader struct {
	pid     int
	members []int // descendants found at the last look
	reads   int   // readings since that look
	stale   bool  // a member has gone: look again
}

// rescanEvery is how many readings pass between looks for descendants: at
// the default 5 s interval a model server a router started shows up within
// half a minute.
const rescanEvery = 6

// maxMembers bounds the descendants summed: a server that forks without
// end must not make the reading cost without end.
const maxMembers = 64

func newMemReader(pid int) *memReader { return &memReader{pid: pid, stale: true} }

// read returns the summed RSS in bytes, or 0 when the child's own cannot be
// read.
func (m *memReader) read() uint64 {
	own, ok := statmRSS(m.pid)
	if !ok {
		return 0
	}
	if m.stale || m.reads >= rescanEvery {
		m.members = descendants(m.pid, maxMembers)
		m.reads, m.stale = 0, false
	}
	m.reads++
	total := own
	for _, p := range m.members {
		rss, ok := statmRSS(p)
		if !ok {
			m.stale = true
			continue
		}
		total += rss
	}
	return total
}

var pageSize = uint64(os.Getpagesize())

// statmRSS reads the resident set of a process: the second field of
// /proc/PID/statm, in pages (the VmRSS of /proc/PID/status, cheaper to
// produce and to parse).
func statmRSS(pid int) (uint64, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var buf [128]byte
	n, _ := f.Read(buf[:])
	fields := bytes.Fields(buf[:n])
	if len(fields) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * pageSize, true
}

// descendants lists the processes below pid, breadth first, at most max:
// the children of every thread (/proc/PID/task/TID/children), then theirs.
func descendants(pid, max int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 && len(out) < max {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children(p) {
			if len(out) == max {
				break
			}
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func children(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	tids, _ := d.Readdirnames(-1)
	d.Close()
	var out []int
	var buf [4096]byte
	for _, tid := range tids {
		f, err := os.Open(dir + tid + "/children")
		if err != nil {
			continue
		}
		n, _ := f.Read(buf[:])
		f.Close()
		for _, field := range bytes.Fields(buf[:n]) {
			if c, err := strconv.Atoi(string(field)); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
