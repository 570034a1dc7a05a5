//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procs remembers every process group the bench started, so that all of
// them are killed at the end, on an error and on SIGINT/SIGTERM. The bench
// is also a child subreaper: a child orphaned by a killed supervisor is
// re-parented to the bench (not to init), which can then reap and kill it.
var procs = struct {
	sync.Mutex
	groups map[int]string
	pids   map[int]bool // orphans re-parented to us that we must reap
}{groups: map[int]string{}, pids: map[int]bool{}}

func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// startGroup starts cmd in a new process group and registers it.
func startGroup(name string, cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	procs.Lock()
	procs.groups[cmd.Process.Pid] = name
	procs.Unlock()
	return nil
}

// killGroup SIGKILLs a group started by startGroup and forgets it.
func killGroup(pgid int) {
	syscall.Kill(-pgid, syscall.SIGKILL)
	procs.Lock()
	delete(procs.groups, pgid)
	procs.Unlock()
}

// cleanupAll kills every group still registered and every process that is
// (now) our child and not the bench itself, then reaps what it can.
func cleanupAll() {
	procs.Lock()
	groups := make([]int, 0, len(procs.groups))
	for g := range procs.groups {
		groups = append(groups, g)
	}
	procs.groups = map[int]string{}
	procs.Unlock()
	for _, g := range groups {
		syscall.Kill(-g, syscall.SIGTERM)
	}
	time.Sleep(100 * time.Millisecond)
	for _, g := range groups {
		syscall.Kill(-g, syscall.SIGKILL)
	}
	// Orphans re-parented to us (we are a subreaper): kill and reap them.
	for range 3 {
		kids := childrenOf(os.Getpid())
		if len(kids) == 0 {
			break
		}
		for _, k := range kids {
			syscall.Kill(k, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
		for _, k := range kids {
			var ws syscall.WaitStatus
			syscall.Wait4(k, &ws, syscall.WNOHANG, nil)
		}
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(p)
		if err != nil {
			continue
		}
		if st.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

type statLine struct {
	state byte
	ppid  int
	comm  string
}

func readStat(pid int) (statLine, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return statLine{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+4 > len(s) {
		return statLine{}, fmt.Errorf("bad stat")
	}
	comm := s[strings.IndexByte(s, '(')+1 : i]
	f := strings.Fields(s[i+2:])
	ppid, _ := strconv.Atoi(f[1])
	return statLine{state: f[0][0], ppid: ppid, comm: comm}, nil
}

// aliveNotZombie reports whether pid is a live process (not a zombie).
func aliveNotZombie(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

// reapOrphan reaps pid if it became our child (subreaper); harmless otherwise.
func reapOrphan(pid int) {
	var ws syscall.WaitStatus
	for range 50 {
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if got == pid || err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cpuNS is the CPU time of every thread of pid, from
// /proc/PID/task/*/schedstat (nanoseconds; ticks are far too coarse for an
// idle process).
func cpuNS(pid int) (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no tasks for pid %d", pid)
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just exited
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			sum += n
		}
	}
	return sum, nil
}

// rssKB is VmRSS of pid in kB.
func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

func threadCount(pid int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	return len(tasks)
}

// waitGone waits until pid no longer exists at all (reaped) or d passes.
func waitGone(pid int, d time.Duration) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// readPIDFile reads a decimal pid file.
func readPIDFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// waitFor polls cond every step until it holds or d passes.
func waitFor(d, step time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(step)
	}
}
