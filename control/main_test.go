package control

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
)

// impostorEnv makes the test binary an impostor agent: it listens on the
// unix socket the variable names, says "listening" on stdout, answers every
// request with impostorLine, and exits when its stdin closes. The peer
// tests run it as another user.
const impostorEnv = "OCM_CONTROL_TEST_IMPOSTOR"

const impostorLine = `{"state":"running","pid":1,"model":"impostor"}`

func TestMain(m *testing.M) {
	if path := os.Getenv(impostorEnv); path != "" {
		os.Exit(impostor(path))
	}
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
