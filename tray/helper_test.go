package tray

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// systray keeps global state and runs once per process, so every test that
// shows a real tray runs this test binary again as a helper process that
// does only that (see helperMain) and talks to it over stdin/stdout.

// helperName is the child (see testproc) that shows the tray.
const helperName = "tray"

func TestMain(m *testing.M) {
	testproc.RunChild(helperName, helperMain)
	os.Exit(m.Run())
}

// helperMain runs a Tray. stdin: one JSON status per line (Update),
// "goroutines" (answers "stayRegistered true|false": is systray's
// re-registration goroutine alive?), "quit" (cancel Run). stdout: "action
// NAME" per menu action, "ready", and "exited" after Run returned and
// Updates after it did not panic.
func helperMain() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", a...)
	}
	act := func(name string) func() { return func() { say("action %s", name) } }
	hub := status.NewHub(status.Status{State: status.NotSpawning, Reason: "starting up"})
	actID := func(name string) func(string) { return func(id string) { say("action %s %s", name, id) } }
	tr := New(hub, Actions{
		Start: act("start"), Stop: act("stop"), Restart: act("restart"),
		OpenSettings: act("settings"), OpenLogs: act("logs"), Quit: act("quit"),
		UseModel: actID("use-model"), LoadModel: actID("load-model"), UnloadModel: actID("unload-model"),
		UnloadAll: act("unload-all"),
		OpenChat:  func(url string) { say("action chat %s", url) },
		CopyURL:   func(url string) { say("action copy %s", url) },
	}, log)
	var cat *testCatalog
	if os.Getenv("OCM_TRAY_TEST_CATALOG") == "1" {
		cat = &testCatalog{pokes: make(chan struct{}, 1)}
		tr.SetCatalog(cat)
	}
	if os.Getenv("OCM_TRAY_TEST_POISON") == "1" {
		// What beeep does on Linux: a match rule on the shared connection.
		// A 2-argument NotificationClosed then ends systray's watcher.
		conn, err := dbus.SessionBus()
		if err != nil {
			fmt.Fprintln(os.Stderr, "poison:", err)
			return 3
		}
		if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.Notifications"),
			dbus.WithMatchMember("NotificationClosed")); err != nil {
			fmt.Fprintln(os.Stderr, "poison:", err)
			return 3
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	say("ready")
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "quit":
			cancel()
		case strings.HasPrefix(line, "catalog ") && cat != nil:
			if err := cat.set(line[len("catalog "):]); err != nil {
				fmt.Fprintln(os.Stderr, "bad catalog:", err)
				return 3
			}
		case line == "goroutines":
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			say("stayRegistered %v", strings.Contains(string(buf[:n]), "systray.stayRegistered"))
		default:
			var st status.Status
			if err := json.Unmarshal([]byte(line), &st); err != nil {
				fmt.Fprintln(os.Stderr, "bad status:", err)
				return 3
			}
			hub.Publish(st, time.Now())
		}
		if line == "quit" {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "Run:", err)
		return 4
	}
	for _, s := range status.States { // after Run: must not panic
		hub.Publish(status.Status{State: s}, time.Now())
	}
	say("exited")
	return 0
}

// testCatalog is the helper's Models submenu list, set from stdin
// ("catalog {"router":bool,"items":[...]}").
type testCatalog struct {
	mu     sync.Mutex
	items  []ModelItem
	router bool
	pokes  chan struct{}
}

func (c *testCatalog) set(js string) error {
	var v struct {
		Router bool
		Items  []ModelItem
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		return err
	}
	c.mu.Lock()
	c.items, c.router = v.Items, v.Router
	c.mu.Unlock()
	select {
	case c.pokes <- struct{}{}:
	default:
	}
	return nil
}

func (c *testCatalog) Models() ([]ModelItem, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.items, c.router
}

func (c *testCatalog) Changes() (<-chan struct{}, func()) { return c.pokes, func() {} }

// trayProc is the test's side of a helper.
type trayProc struct {
	*testproc.Proc
	t     *testing.T
	stdin io.WriteCloser
	out   chan string // its stdout, line by line; closed when it exited
}

func startTray(t *testing.T, env []string, extra ...string) *trayProc {
	t.Helper()
	cmd := testproc.Command(helperName)
	// The session's environment, this child's name and what makes the
	// helper's race reports be checked in Cleanup (see
	// desktoptest.LibraryRace) rather than turned into exit status 66.
	cmd.Env = testproc.EnvFrom(append(append(env, extra...), "GORACE=exitcode=0"), helperName)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &trayProc{t: t, stdin: stdin, out: make(chan string, 256)}
	cmd.Stdout = &lineWriter{lines: p.out}
	p.Proc = testproc.Start(t, cmd)
	go func() {
		<-p.Done() // Wait returned: nothing writes to out any more
		close(p.out)
	}()
	// Registered after Start's cleanup, so it runs first: the helper quits
	// by itself when its stdin closes.
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-p.Done():
		case <-time.After(testenv.WaitLimit):
			t.Errorf("the tray helper did not exit %v after its stdin closed", testenv.WaitLimit)
			p.Cmd.Process.Kill()
			<-p.Done()
		}
		for _, r := range desktoptest.RaceReports(p.log()) {
			if desktoptest.LibraryRace(r) {
				t.Logf("known data race inside fyne.io/systray + godbus prop (SetIcon rewrites the IconPixmap slice in place while a Get reply is encoded):\n%s", firstLines(r, 12))
				continue
			}
			t.Errorf("data race in the helper:\n%s", r)
		}
		if t.Failed() || testing.Verbose() {
			for _, l := range p.log() {
				t.Logf("tray: %s", l)
			}
		}
	})
	p.expect("ready")
	return p
}

// lineWriter hands what a child writes to a channel, line by line.
type lineWriter struct {
	lines chan<- string
	part  []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.part = append(w.part, b...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.lines <- string(w.part[:i])
		w.part = w.part[i+1:]
	}
}

func (p *trayProc) log() []string {
	return strings.Split(p.Stderr.String(), "\n")
}

func (p *trayProc) update(st status.Status) {
	p.t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(string(b))
}

func (p *trayProc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("write to helper: %v", err)
	}
}

// expect waits for a line on the helper's stdout; other lines fail the test.
func (p *trayProc) expect(want string) {
	p.t.Helper()
	got := testenv.Recv(p.t, p.out, fmt.Sprintf("the helper to say %q", want))
	if got == "" && p.Exited() { // out is closed
		p.t.Fatalf("helper exited while waiting for %q", want)
	}
	if got != want {
		p.t.Fatalf("helper said %q, want %q", got, want)
	}
}

// waitExit waits for the helper to end and checks it exited 0.
func (p *trayProc) waitExit() {
	p.t.Helper()
	if err := p.Wait(p.t); err != nil {
		p.t.Fatalf("helper: %v", err)
	}
}

func firstLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[:n]
	}
	return strings.Join(l, "\n")
}
