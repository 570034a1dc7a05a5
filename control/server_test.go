package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

// rawRequest sends line as it is and returns every line the server sends
// until it closes.
func rawRequest(t *testing.T, path, line string) []string {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(testenv.WaitLimit))
	if _, err := io.WriteString(nc, line); err != nil {
		t.Fatal(err)
	}
	return readAll(t, nc)
}

func readAll(t *testing.T, nc net.Conn) []string {
	t.Helper()
	var lines []string
	sc := bufio.NewScanner(nc)
	sc.Buffer(nil, maxReply)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	// A server that closes with our bytes unread resets the connection
	// after its lines: that is an end too.
	if err := sc.Err(); err != nil && !isReset(err) {
		t.Fatalf("reading replies %q: %v", lines, err)
	}
	return lines
}

func TestStatusRoundTrip(t *testing.T) {
	testenv.NoLeaks(t)
	want := status.Status{
		State: status.Restarting, Attempt: 2, MaxRestarts: 3, LastError: `exit status 1: "model not found"`,
		Model: "qwen", Since: t0, Warning: "reachable from the network",
	}
	ts := startServer(t, newFakeAgent(want).source(), nil)

	got, err := dialT(t, ts.path).Status(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) || !got.Since.Equal(want.Since) {
		t.Fatalf("Status() = %+v, want %+v", got, want)
	}

	// The wire line is the Status JSON verbatim: what `status --json` prints.
	lines := rawRequest(t, ts.path, `{"cmd":"status"}`+"\n")
	wantLine := `{"state":"restarting","attempt":2,"last_error":"exit status 1: \"model not found\"","model":"qwen",` +
		`"since":"2026-03-01T12:00:00.123456789Z","warning":"reachable from the network","max_restarts":3}`
	if len(lines) != 1 || lines[0] != wantLine {
		t.Fatalf("status lines = %q, want [%s]", lines, wantLine)
	}
	if b, _ := json.Marshal(got); string(b) != wantLine {
		t.Fatalf("client's Status marshals to %s, want the wire line %s", b, wantLine)
	}
}

func TestCommandsCallAgent(t *testing.T) {
	testenv.NoLeaks(t)
	agent := newFakeAgent(status.Status{State: status.Running, PID: 7})
	ts := startServer(t, agent.source(), nil)
	c := dialT(t, ts.path)
	for _, cmd := range []string{"start", "stop", "restart", "stop"} {
		if err := c.Do(ctxT(t), cmd); err != nil {
			t.Fatalf("Do(%s): %v", cmd, err)
		}
		// The reply comes after the call: it is already there.
		select {
		case got := <-agent.calls:
			if got != cmd {
				t.Fatalf("agent got %s, want %s", got, cmd)
			}
		default:
			t.Fatalf("Do(%s) returned before the agent was called", cmd)
		}
	}
	if err := c.Do(ctxT(t), "status"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("Do(status) = %v, want an unknown command error", err)
	}
}

func TestQuitWaitsForClose(t *testing.T) {
	testenv.NoLeaks(t)
	ts := startServer(t, newFakeAgent(status.Status{State: status.Running, PID: 7}).source(), nil)

	done := make(chan error, 2)
	for range 2 {
		c := dialT(t, ts.path)
		go func() { done <- c.Do(context.Background(), "quit") }()
	}
	<-ts.quits
	// Both requests must be in before Close; the second does not call quit
	// again, so wait until the server holds two connections.
	testenv.Eventually(t, "two quit requests pending", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return len(ts.conns) == 2
	})
	select {
	case err := <-done:
		t.Fatalf("quit returned (%v) before Close", err)
	default:
	}
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("quit: %v", err)
		}
	}
	if n := len(ts.quits); n != 0 {
		t.Fatalf("quit func called %d more times, want once in all", n)
	}
	if _, err := os.Lstat(ts.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after Close: %v", err)
	}
}

// A connection closed without an answer after quit means the agent exited:
// success. For the other commands it is an error.
func TestQuitEOFIsSuccess(t *testing.T) {
	testenv.NoLeaks(t)
	path := filepath.Join(testenv.ShortTempDir(t), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(nc).ReadString('\n')
			nc.Close()
		}
	}()
	c := dialT(t, path)
	if err := c.Do(ctxT(t), "quit"); err != nil {
		t.Fatalf("quit answered by EOF: %v", err)
	}
	if err := c.Do(ctxT(t), "stop"); err == nil {
		t.Fatal("stop answered by EOF: no error")
	}
	if _, err := c.Status(ctxT(t)); err == nil {
		t.Fatal("status answered by EOF: no error")
	}
}

func TestWatch(t *testing.T) {
	testenv.NoLeaks(t)
	agent := newFakeAgent(status.Status{State: status.NotSpawning, Reason: "no model", Since: t0})
	ts := startServer(t, agent.source(), nil)

	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	steps := []status.Status{
		{State: status.Starting, PID: 42, Model: "m"},
		{State: status.Running, PID: 42, Model: "m"},
		{State: status.Stopped, Model: "m"}, // a stop from the menu: not the end
		{State: status.Starting, PID: 43, Model: "m"},
	}
	want := []string{
		`{"state":"not_spawning","reason":"no model","since":"2026-03-01T12:00:00.123456789Z","at":"2026-03-01T12:00:00.123456789Z"}`,
		`{"state":"starting","pid":42,"model":"m","since":"2026-03-01T12:00:00.124456789Z","at":"2026-03-01T12:00:00.124456789Z"}`,
		`{"state":"running","pid":42,"model":"m","since":"2026-03-01T12:00:00.125456789Z","at":"2026-03-01T12:00:00.125456789Z"}`,
		`{"state":"stopped","model":"m","since":"2026-03-01T12:00:00.126456789Z","at":"2026-03-01T12:00:00.126456789Z"}`,
		`{"state":"starting","pid":43,"model":"m","since":"2026-03-01T12:00:00.127456789Z","at":"2026-03-01T12:00:00.127456789Z"}`,
		`{"state":"stopped","since":"2026-03-01T12:00:00.128456789Z","at":"2026-03-01T12:00:00.128456789Z"}`,
	}

	var got []string
	err := dialT(t, ts.path).Watch(ctxT(t), func(line []byte, ev status.Event) error {
		got = append(got, string(line))
		if want := ev.Status.Since; !ev.At.Equal(want) {
			t.Errorf("line %d: at %v, since %v", len(got), ev.At, want)
		}
		if len(got) == 1 { // subscribed: now publish
			for i, st := range steps {
				agent.publish(st, ms(i+1))
			}
			agent.finish(ms(len(steps) + 1))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("watch lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// main calls Close right after Run returned: the final stopped line, already
// in the feed, must still reach the watcher.
func TestWatchGetsStoppedWhenClosedAtOnce(t *testing.T) {
	testenv.NoLeaks(t)
	agent := newFakeAgent(status.Status{State: status.Running, PID: 1, Since: t0})
	ts := startServer(t, agent.source(), nil)
	var states []status.State
	err := dialT(t, ts.path).Watch(ctxT(t), func(_ []byte, ev status.Event) error {
		states = append(states, ev.Status.State)
		if len(states) == 1 {
			agent.publish(status.Status{State: status.Restarting, Attempt: 1}, t0.Add(time.Second))
			agent.finish(t0.Add(2 * time.Second))
			ts.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Watch: %v (states %v)", err, states)
	}
	if want := []status.State{status.Running, status.Restarting, status.Stopped}; !equalStates(states, want) {
		t.Fatalf("states %v, want %v", states, want)
	}
}

func equalStates(a, b []status.State) bool {
	return strings.Join(stateStrings(a), ",") == strings.Join(stateStrings(b), ",")
}

func stateStrings(s []status.State) []string {
	out := make([]string, len(s))
	for i, st := range s {
		out[i] = string(st)
	}
	return out
}

func TestSlowWatcherIsCutOff(t *testing.T) {
	testenv.NoLeaks(t)
	agent := newFakeAgent(status.Status{State: status.Running, PID: 1, Since: t0})
	ts := startServer(t, agent.source(), nil)

	// The first line is read; then the watcher stops reading while the
	// agent publishes until its queue overflows.
	var lines []string
	err := dialT(t, ts.path).Watch(ctxT(t), func(line []byte, _ status.Event) error {
		lines = append(lines, string(line))
		if len(lines) == 1 {
			for i := 0; ; i++ {
				if _, cut := agent.counts(); cut > 0 {
					break
				}
				if i > 1e6 {
					t.Fatal("the watcher was never cut off")
				}
				st := status.Status{State: status.Running, PID: 1, Model: strings.Repeat("x", i%2)}
				agent.publish(st, t0.Add(time.Duration(i)))
			}
		}
		return nil
	})
	if !errors.Is(err, status.ErrSlowSubscriber) {
		t.Fatalf("Watch = %v, want ErrSlowSubscriber (after %d lines)", err, len(lines))
	}
	if len(lines) < 2 {
		t.Fatalf("got %d lines before the cut, want the buffered ones too", len(lines))
	}
}

func TestSlowWatcherErrorLine(t *testing.T) {
	testenv.NoLeaks(t)
	agent := newFakeAgent(status.Status{State: status.Running, PID: 1, Since: t0})
	ts := startServer(t, agent.source(), nil)
	nc, err := net.Dial("unix", ts.path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, `{"cmd":"watch"}`+"\n")
	testenv.Eventually(t, "subscribed", func() bool { n, _ := agent.counts(); return n == 1 })
	for i := 0; ; i++ {
		if _, cut := agent.counts(); cut > 0 {
			break
		}
		if i > 1e6 {
			t.Fatal("the watcher was never cut off")
		}
		agent.publish(status.Status{State: status.Running, PID: 1 + i%2}, t0)
	}
	nc.SetReadDeadline(time.Now().Add(testenv.WaitLimit))
	lines := readAll(t, nc)
	if last := lines[len(lines)-1]; last != `{"error":"subscriber fell too far behind and was disconnected"}` {
		t.Fatalf("last line %s", last)
	}
}

func TestBadRequests(t *testing.T) {
	testenv.NoLeaks(t)
	ts := startServer(t, newFakeAgent(status.Status{State: status.Stopped}).source(), nil)
	for _, tc := range []struct{ req, want string }{
		{`{"cmd":"x"}` + "\n", `{"error":"unknown command \"x\""}`},
		{`{"cmd":""}` + "\n", `{"error":"unknown command \"\""}`},
		{"status\n", `{"error":"bad request: invalid character 's' looking for beginning of value"}`},
		{strings.Repeat("a", 5000) + "\n", `{"error":"request longer than 4096 bytes"}`},
		{`{"cmd":"status","pad":"` + strings.Repeat(" ", 5000) + `"}` + "\n", `{"error":"request longer than 4096 bytes"}`},
	} {
		lines := rawRequest(t, ts.path, tc.req)
		if len(lines) != 1 || lines[0] != tc.want {
			t.Errorf("request %.40q: replies %q, want [%s]", tc.req, lines, tc.want)
		}
	}
	// Just under the limit is fine.
	req := `{"cmd":"status","pad":"` + strings.Repeat(" ", maxRequest-40) + `"}` + "\n"
	if lines := rawRequest(t, ts.path, req); len(lines) != 1 || lines[0] != `{"state":"stopped"}` {
		t.Errorf("%d-byte request: replies %q", len(req), lines)
	}
}

func TestIdleClientIsDropped(t *testing.T) {
	testenv.NoLeaks(t)
	ts := startServer(t, newFakeAgent(status.Status{State: status.Stopped}).source(),
		func(s *Server) { s.requestTimeout = 20 * time.Millisecond })
	nc, err := net.Dial("unix", ts.path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(testenv.WaitLimit))
	if n, err := nc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %d, %v; want EOF from the server", n, err)
	}
}

func TestRequestCap(t *testing.T) {
	testenv.NoLeaks(t)
	ts := startServer(t, newFakeAgent(status.Status{State: status.Stopped}).source(),
		func(s *Server) { s.maxRequests = 2 })
	var idle []net.Conn
	for range 2 {
		nc, err := net.Dial("unix", ts.path)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		idle = append(idle, nc)
	}
	// Accepted in order: the third connection finds the server full.
	if _, err := dialT(t, ts.path).Status(ctxT(t)); err == nil || !strings.Contains(err.Error(), "too many requests at once (max 2)") {
		t.Fatalf("third connection: %v, want too many requests", err)
	}
	idle[0].Close()
	testenv.Eventually(t, "a slot to free up", func() bool {
		_, err := dialT(t, ts.path).Status(ctxT(t))
		return err == nil
	})
}

// A watcher that goes away is noticed at once, not at the next change.
func TestWatcherGoneReleasesFeed(t *testing.T) {
	testenv.NoLeaks(t)
	agent := newFakeAgent(status.Status{State: status.Running, PID: 1, Since: t0})
	ts := startServer(t, agent.source(), nil)
	errStop := errors.New("enough")
	err := dialT(t, ts.path).Watch(ctxT(t), func([]byte, status.Event) error { return errStop })
	if !errors.Is(err, errStop) {
		t.Fatalf("Watch = %v, want fn's error", err)
	}
	testenv.Eventually(t, "the server to drop the feed", func() bool { n, _ := agent.counts(); return n == 0 })

	// Cancelling ctx ends a watch as well.
	ctx, cancel := context.WithCancel(context.Background())
	err = dialT(t, ts.path).Watch(ctx, func([]byte, status.Event) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch after cancel = %v, want context.Canceled", err)
	}
	testenv.Eventually(t, "the server to drop the feed", func() bool { n, _ := agent.counts(); return n == 0 })
}

// Close with connections in every phase ends every goroutine and removes
// the socket file.
func TestCloseEndsEverything(t *testing.T) {
	testenv.NoLeaks(t)
	agent := newFakeAgent(status.Status{State: status.Running, PID: 1, Since: t0})
	path := filepath.Join(testenv.ShortTempDir(t), "ocm-tray.sock")
	srv, err := Listen(path, agent.source(), func() {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(context.Background()) }()

	idle, err := net.Dial("unix", path) // stuck before its request
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	watching := make(chan struct{})
	watchErr := make(chan error, 1)
	go func() {
		c, err := Dial(path)
		if err != nil {
			watchErr <- err
			return
		}
		defer c.Close()
		watchErr <- c.Watch(context.Background(), func([]byte, status.Event) error {
			close(watching)
			return nil
		})
	}()
	<-watching
	testenv.Eventually(t, "both connections accepted", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.conns) == 2
	})

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-serveErr; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// The agent never stopped: the watcher learns it was cut off.
	if err := <-watchErr; err == nil {
		t.Fatal("Watch ended without error though the agent never stopped")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := Dial(path); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("Dial after Close = %v, want ErrNoAgent", err)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	testenv.NoLeaks(t)
	path := filepath.Join(testenv.ShortTempDir(t), "ocm-tray.sock")
	srv, err := Listen(path, newFakeAgent(status.Status{State: status.Stopped}).source(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ctx) }()
	if _, err := dialT(t, path).Status(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-serveErr; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := Dial(path); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("Dial after ctx done = %v, want ErrNoAgent", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background()); err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	testenv.NoLeaks(t)
	path := filepath.Join(testenv.ShortTempDir(t), "ocm-tray.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close() // an agent that died: the file stays, nobody answers
	if _, err := Dial(path); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("Dial to a stale socket = %v, want ErrNoAgent", err)
	}

	ts := startServerAt(t, path)
	if _, err := dialT(t, ts.path).Status(ctxT(t)); err != nil {
		t.Fatalf("status on the replaced socket: %v", err)
	}

	// A live socket is not taken over.
	if _, err := Listen(path, newFakeAgent(status.Status{}).source(), nil, nil); err == nil || !strings.Contains(err.Error(), "another agent") {
		t.Fatalf("Listen on a live socket = %v", err)
	}
	if _, err := dialT(t, ts.path).Status(ctxT(t)); err != nil {
		t.Fatalf("status after the failed takeover: %v", err)
	}
}

func startServerAt(t *testing.T, path string) *testServer {
	t.Helper()
	srv, err := Listen(path, newFakeAgent(status.Status{State: status.Stopped}).source(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, path: path, serveErr: make(chan error, 1)}
	go func() { ts.serveErr <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		srv.Close()
		<-ts.serveErr
	})
	return ts
}

func TestNotASocketKept(t *testing.T) {
	path := filepath.Join(testenv.ShortTempDir(t), "ocm-tray.sock")
	if err := os.WriteFile(path, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, newFakeAgent(status.Status{}).source(), nil, nil); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "mine" {
		t.Fatalf("file after Listen: %q, %v", b, err)
	}
}

func TestDialNoAgent(t *testing.T) {
	_, err := Dial(filepath.Join(testenv.ShortTempDir(t), "nothing.sock"))
	if !errors.Is(err, ErrNoAgent) {
		t.Fatalf("Dial = %v, want ErrNoAgent", err)
	}
	if _, err := Dial(filepath.Join(testenv.ShortTempDir(t), "no", "dir.sock")); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("Dial into a missing directory = %v, want ErrNoAgent", err)
	}
}

// The real supervisor as the source (its Run is not needed to read the
// status and subscribe).
func TestRealSupervisorSource(t *testing.T) {
	testenv.NoLeaks(t)
	sup := supervisor.New(supervisor.Config{Model: "qwen"})
	ts := startServer(t, Source{Hub: sup.Hub(), Controls: sup}, nil)
	st, err := dialT(t, ts.path).Status(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := sup.Hub().Status(); !st.Equal(want) || !st.Since.Equal(want.Since) {
		t.Fatalf("Status = %+v, want %+v", st, want)
	}
	errStop := errors.New("enough")
	var line string
	err = dialT(t, ts.path).Watch(ctxT(t), func(l []byte, ev status.Event) error {
		line = string(l)
		if !ev.At.Equal(st.Since) {
			t.Errorf("first at %v, want since %v", ev.At, st.Since)
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Watch = %v", err)
	}
	since := st.Since.Format(status.SinceFormat)
	if want := `{"state":"not_spawning","reason":"ocm-tray is starting up","model":"qwen","since":"` + since + `","at":"` + since + `"}`; line != want {
		t.Fatalf("first watch line %s, want %s", line, want)
	}
}
