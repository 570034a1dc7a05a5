package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// sysProcAttr starts the child in a new console process group so a console
// control event can be aimed at it alone.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

// group is the started child's Job Object. The job has kill-on-close: when
// the agent exits, however it exits, Windows closes the handle and kills
// what is in the job, so llama-server never outlives us. Each child has a
// job of its own, closed once the child is reaped.
type group struct {
	p *os.Process

	mu  sync.Mutex
	job windows.Handle // 0 once released
}

// contain puts a child just started into a new job with kill-on-close.
func contain(cmd *exec.Cmd) (*group, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("create job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("set job object limits: %w", err)
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("open child process: %w", err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("assign child to job object: %w", err)
	}
	return &group{p: cmd.Process, job: job}, nil
}

// terminate sends CTRL_BREAK to the child's console process group:
// llama-server on Windows handles console control events, not signals. The
// event travels through the console the agent shares with the child; an
// agent without a console cannot ask, and waiting stop_timeout for an answer
// that cannot come only delays, so the job is terminated at once instead.
func (g *group) terminate() error {
	err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(g.p.Pid))
	if err == nil {
		return nil
	}
	return errors.Join(fmt.Errorf("CTRL_BREAK: %w; terminating its job instead", err), g.kill())
}

// kill terminates the whole job: the child and anything it started.
func (g *group) kill() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.job == 0 {
		return nil // reaped already
	}
	return windows.TerminateJobObject(g.job, 1)
}

// release closes the job handle once the child is reaped. Anything the child
// left running in the job dies with it (kill-on-close).
func (g *group) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.job != 0 {
		windows.CloseHandle(g.job)
		g.job = 0
	}
}

func exitHow(ps *os.ProcessState) string {
	return fmt.Sprintf("exited with status %d", ps.ExitCode())
}
