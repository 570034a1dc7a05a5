package power

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/OpenCircuitDev/ocm-tray/internal/desktoptest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// fakeLogind is org.freedesktop.login1 on a private bus standing in for the
// system bus: each Inhibit hands out the write end of a fresh pipe, as
// logind hands out the end of a FIFO; the lock lasts while the caller keeps
// that descriptor open.
type fakeLogind struct {
	mu    sync.Mutex
	calls [][4]string
	pipes []*os.File // both ends of each pipe, kept open by the fake
}

func (f *fakeLogind) Inhibit(what, who, why, mode string) (dbus.UnixFD, *dbus.Error) {
	r, w, err := os.Pipe()
	if err != nil {
		return -1, dbus.MakeFailedError(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, [4]string{what, who, why, mode})
	f.pipes = append(f.pipes, r, w)
	return dbus.UnixFD(w.Fd()), nil
}

func (f *fakeLogind) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// held reports whether the last lock handed out is still open somewhere
// besides the fake's own two ends: the keeper's copy is in this process.
func (f *fakeLogind) held(t *testing.T) bool {
	t.Helper()
	f.mu.Lock()
	r := f.pipes[len(f.pipes)-2]
	f.mu.Unlock()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(r.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("pipe:[%d]", st.Ino)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && l == want {
			n++
		}
	}
	return n > 2
}

func startLogind(t *testing.T) (*desktoptest.Bus, *fakeLogind) {
	t.Helper()
	b := desktoptest.StartBus(t)
	conn, err := dbus.Connect(b.Address)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLogind{}
	t.Cleanup(func() {
		conn.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.pipes {
			p.Close()
		}
	})
	if err := conn.Export(f, login1Path, login1Manager); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(login1Name, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v %v", login1Name, reply, err)
	}
	return b, f
}

var (
	idle = status.Status{State: status.Running, PID: 7, Activity: status.Activity{SlotsTotal: 4}}
	busy = status.Status{State: status.Running, PID: 7, Activity: status.Activity{SlotsBusy: 1, SlotsTotal: 4}}
)

// The lock is held exactly while a slot is processing: taken on busy,
// closed on idle, on stop, when the setting goes off and when the agent
// exits.
func TestKeeperHoldsTheLockWhileBusy(t *testing.T) {
	b, logind := startLogind(t)
	hub := status.NewHub(idle)
	k := New(true, nil, WithBusAddress(b.Address))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx, hub) }()

	publish := func(st status.Status) { hub.Publish(st, time.Now()) }
	lockedN := func(n int) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("lock %d held", n), func() bool { return logind.count() == n && logind.held(t) })
	}
	released := func() {
		t.Helper()
		testenv.Eventually(t, "the lock released", func() bool { return !logind.held(t) })
	}

	publish(busy)
	lockedN(1)
	if got := logind.calls[0]; got != [4]string{"idle", "ocm-tray", "llama-server is generating", "block"} {
		t.Fatalf("Inhibit%q", got)
	}
	busier := busy
	busier.Activity.SlotsBusy, busier.Activity.TokensPerSecond = 2, 38
	publish(busier) // still busy: the same lock
	publish(idle)
	released()
	if logind.count() != 1 {
		t.Fatalf("%d Inhibit calls for one busy spell", logind.count())
	}

	publish(busy)
	lockedN(2)
	publish(status.Status{State: status.Stopped})
	released()

	publish(busy)
	lockedN(3)
	k.SetEnabled(false)
	released()
	k.SetEnabled(true)
	lockedN(4)

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if logind.held(t) {
		t.Fatal("the lock outlived Run")
	}
}

// No system bus: said once, whatever the slots do.
func TestKeeperWithoutSystemBus(t *testing.T) {
	var mu sync.Mutex
	var warnings []string
	log := slog.New(handlerFunc(func(r slog.Record) {
		if r.Level >= slog.LevelWarn {
			mu.Lock()
			warnings = append(warnings, r.Message)
			mu.Unlock()
		}
	}))
	hub := status.NewHub(idle)
	k := New(true, log, WithBusAddress("unix:path="+filepath.Join(t.TempDir(), "no-bus")))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx, hub) }()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(warnings) }
	hub.Publish(busy, time.Now())
	testenv.Eventually(t, "the warning", func() bool { return count() == 1 })
	for _, st := range []status.Status{idle, busy, idle, busy} {
		hub.Publish(st, time.Now())
	}
	// A later spell tries again but says nothing new; Run takes the last
	// status before it returns.
	cancel()
	<-done
	if n := count(); n != 1 || !strings.Contains(warnings[0], "keep_awake_while_generating") {
		t.Fatalf("warnings %q, want one", warnings)
	}
}

type handlerFunc func(slog.Record)

func (h handlerFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (h handlerFunc) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h handlerFunc) WithGroup(string) slog.Handler                 { return h }
