//go:build windows

// Command ctrlbreak tells whether this Windows (or Wine) can stop a child
// the way the agent asks llama-server to stop: CTRL_BREAK to the console
// process group the child leads. It starts the program given, waits for it
// to say it is ready, sends the event and prints one line: "ctrlbreak: ok"
// when the child exited within 5 s, else what went wrong. The Wine test uses
// it to tell a Wine gap from a bug of ours.
//
//	ctrlbreak PROGRAM [ARG...]
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

func main() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		fmt.Println("ctrlbreak:", err)
		os.Exit(1)
	}
	if err := cmd.Start(); err != nil {
		fmt.Println("ctrlbreak:", err)
		os.Exit(1)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "starting the main loop") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(cmd.Process.Pid)); err != nil {
		fmt.Println("ctrlbreak: GenerateConsoleCtrlEvent:", err)
		cmd.Process.Kill()
		<-done
		os.Exit(1)
	}
	select {
	case <-done:
		fmt.Println("ctrlbreak: ok")
	case <-time.After(5 * time.Second):
		fmt.Println("ctrlbreak: the child ignored CTRL_BREAK for 5 s")
		cmd.Process.Kill()
		<-done
		os.Exit(1)
	}
}
