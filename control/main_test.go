package control

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

// impostorChild is the child (see testproc) that is an impostor agent: it
// listens on the unix socket impostorSocketEnv names, says "listening" on
// stdout, answers every request with impostorLine, and exits when its stdin
// closes. The peer tests run it as another user.
const (
	impostorChild     = "control-impostor"
	impostorSocketEnv = "OCM_CONTROL_TEST_IMPOSTOR"
)

const impostorLine = `{"state":"running","pid":1,"model":"impostor"}`

func TestMain(m *testing.M) {
	testproc.RunChild(impostorChild, func() int { return impostor(os.Getenv(impostorSocketEnv)) })
	os.Exit(m.Run())
}

func impostor(path string) int {
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		ln.Close()
	}()
	fmt.Println("listening")
	for {
		nc, err := ln.Accept()
		if err != nil {
			return 0
		}
		go func() {
			defer nc.Close()
			if _, err := bufio.NewReader(nc).ReadString('\n'); err == nil {
				io.WriteString(nc, impostorLine+"\n")
			}
		}()
	}
}
