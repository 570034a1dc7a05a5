package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// sysProcAttr starts the child in a new process group so a console control
// event can be aimed at it alone.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

var (
	jobsMu sync.Mutex
	jobs   = map[int]windows.Handle{} // pid -> job object
)

// afterStart puts the child in a Job Object with kill-on-close: when the
// agent exits for any reason, Windows closes the handle and kills the job,
// so llama-server never outlives us.
func afterStart(cmd *exec.Cmd) error {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return fmt.Errorf("create job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("set job object limits: %w", err)
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("open child process: %w", err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("assign child to job object: %w", err)
	}
	jobsMu.Lock()
	jobs[cmd.Process.Pid] = job
	jobsMu.Unlock()
	return nil
}

// terminateGroup sends CTRL_BREAK to the child's console process group:
// llama-server on Windows handles only console control events, not signals.
func terminateGroup(p *os.Process) error {
	return windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(p.Pid))
}

// killGroup terminates the whole job (the child and anything it started).
func killGroup(p *os.Process) error {
	jobsMu.Lock()
	job, ok := jobs[p.Pid]
	delete(jobs, p.Pid)
	jobsMu.Unlock()
	if !ok {
		return p.Kill()
	}
	defer windows.CloseHandle(job)
	return windows.TerminateJobObject(job, 1)
}

func exitHow(ps *os.ProcessState) string {
	return fmt.Sprintf("exited with status %d", ps.ExitCode())
}
