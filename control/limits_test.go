package control

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// Watchers, however many, never keep a command out: status, stop and quit
// get through with every watch slot taken, and the watcher one too many is
// told why.
func TestWatchersNeverLockOutRequests(t *testing.T) {
	testenv.NoLeaks(t)
	agent := newFakeAgent(status.Status{State: status.Running, PID: 1, Since: t0})
	ts := startServer(t, agent.source(), nil) // the real limits
	const watchers = 70                       // more than either cap
	var conns []net.Conn
	var refused []string
	for range watchers {
		nc, err := net.Dial("unix", ts.path)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(testenv.WaitLimit))
		if _, err := io.WriteString(nc, `{"cmd":"watch"}`+"\n"); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(nc).ReadString('\n')
		if err != nil {
			t.Fatalf("watcher %d: %v", len(conns)+len(refused), err)
		}
		if strings.HasPrefix(line, `{"error"`) {
			refused = append(refused, strings.TrimSpace(line))
			continue
		}
		conns = append(conns, nc)
	}
	if len(conns) != maxWatchers {
		t.Fatalf("%d watchers served, want %d (refused: %q)", len(conns), maxWatchers, refused)
	}

	c := dialT(t, ts.path)
	if st, err := c.Status(ctxT(t)); err != nil || st.State != status.Running {
		t.Fatalf("status with %d watchers: %v, %v", len(conns), st, err)
	}
	if err := c.Do(ctxT(t), cmdStop); err != nil {
		t.Fatalf("stop with %d watchers: %v", len(conns), err)
	}
	if got := <-agent.calls; got != "stop" {
		t.Fatalf("agent got %q", got)
	}
	for _, r := range refused {
		if want := fmt.Sprintf(`{"error":"too many watchers (max %d)"}`, maxWatchers); r != want {
			t.Fatalf("refused watcher got %s, want %s", r, want)
		}
	}
	quit := make(chan error, 1)
	go func() { quit <- c.Do(ctxT(t), cmdQuit) }()
	<-ts.quits // the agent was asked to quit: the request got through

	// A watch slot freed is a watch slot for the next one.
	conns[0].Close()
	testenv.Eventually(t, "a watch slot to free up", func() bool {
		n, _ := agent.counts()
		return n == maxWatchers-1
	})
	errStop := errors.New("enough")
	if err := dialT(t, ts.path).Watch(ctxT(t), func([]byte, status.Event) error { return errStop }); !errors.Is(err, errStop) {
		t.Fatalf("watch after a slot freed: %v", err)
	}

	agent.finish(t0)
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-quit; err != nil {
		t.Fatalf("quit: %v", err)
	}
}

// A status of megabytes, as 20,000 bad flags in a settings file once made,
// reaches the client bounded: status works.
func TestHugeStatusIsBounded(t *testing.T) {
	testenv.NoLeaks(t)
	huge := strings.Repeat(`"--port" is set by ocm-tray itself; `, 60000) // 2 MiB
	agent := newFakeAgent(status.Status{State: status.NotSpawning, Reason: huge, SettingsError: huge})
	ts := startServer(t, agent.source(), nil)
	st, err := dialT(t, ts.path).Status(ctxT(t))
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if len(st.Reason) > status.MaxField || len(st.SettingsError) > status.MaxField || !strings.HasSuffix(st.SettingsError, "…") {
		t.Fatalf("fields of %d and %d bytes", len(st.Reason), len(st.SettingsError))
	}
	// The watch stream is bounded the same way.
	agent.publish(status.Status{State: status.Running, PID: 2, Warning: huge}, t0)
	errStop := errors.New("enough")
	err = dialT(t, ts.path).Watch(ctxT(t), func(line []byte, ev status.Event) error {
		if len(line) > 2*status.MaxField {
			t.Errorf("watch line of %d bytes", len(line))
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatal(err)
	}
}

// A reply line over the client's limit is refused with a sentence saying
// so, not "line too long"; one under it is read.
func TestReplyLimit(t *testing.T) {
	testenv.NoLeaks(t)
	for _, tc := range []struct {
		reason string
		ok     bool
	}{
		{strings.Repeat("r", maxReply-100), true},
		{strings.Repeat("r", 2*maxReply), false},
	} {
		path := filepath.Join(testenv.ShortTempDir(t), "ocm-tray.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan struct{})
		go func() {
			defer close(served)
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			bufio.NewReader(nc).ReadString('\n')
			fmt.Fprintf(nc, `{"state":"not_spawning","reason":%q}`+"\n", tc.reason)
		}()
		_, err = dialT(t, path).Status(ctxT(t))
		ln.Close()
		<-served
		switch {
		case tc.ok && err != nil:
			t.Errorf("a %d-byte reply: %v", len(tc.reason), err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "the agent's reply is longer than 1024 KiB")):
			t.Errorf("a %d-byte reply: %v, want the limit named", len(tc.reason), err)
		}
	}
}
