// Package power keeps the session awake while llama-server generates: it
// holds a logind "idle" inhibitor lock (org.freedesktop.login1.Manager.Inhibit
// on the system bus) exactly while a slot is processing, and closes it when
// the slots are idle, the server stops or the agent exits. "idle" keeps the
// session from idling into suspend; it does not block a lid-close suspend
// (a laptop in a bag should still sleep).
//
// # Goroutines
//
// Run's goroutine is the only one: it reads the status on every poke from
// the hub (pokes coalesce: only whether a slot is busy matters) and talks
// to logind, each call bounded in time. Nothing here is on the
// supervisor's path. Without a system bus or without logind it says so
// once in the log and does nothing.
package power

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// Source is where the status comes from: *status.Hub.
type Source interface {
	Status() status.Status
	Changes() (pokes <-chan struct{}, release func())
}

// callTimeout bounds connecting to the system bus and one Inhibit call.
const callTimeout = 2 * time.Second

// Keeper holds the inhibitor lock while it is wanted. Make one with New,
// run it with Run; SetEnabled is safe from any goroutine.
type Keeper struct {
	log     *slog.Logger
	address string // the system bus; "" = the environment's

	mu      sync.Mutex
	enabled bool
	poke    chan struct{} // cap 1: SetEnabled asks Run to look again
}

// Option adjusts a Keeper.
type Option func(*Keeper)

// WithBusAddress sets the system bus address (default:
// DBUS_SYSTEM_BUS_ADDRESS, else the standard socket).
func WithBusAddress(addr string) Option { return func(k *Keeper) { k.address = addr } }

// New makes a Keeper; enabled is the setting keep_awake_while_generating.
// log may be nil (discard). It starts nothing.
func New(enabled bool, log *slog.Logger, opts ...Option) *Keeper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := &Keeper{log: log, enabled: enabled, poke: make(chan struct{}, 1)}
	for _, o := range opts {
		o(k)
	}
	return k
}

// SetEnabled changes the setting (a settings reload); turning it off
// releases a lock that is held.
func (k *Keeper) SetEnabled(on bool) {
	k.mu.Lock()
	k.enabled = on
	k.mu.Unlock()
	select {
	case k.poke <- struct{}{}:
	default:
	}
}

func (k *Keeper) isEnabled() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.enabled
}

// Wanted reports whether st calls for the lock: a slot is processing.
func Wanted(st status.Status) bool { return st.State == status.Running && st.Activity.Busy() }

// Run holds the lock while the status says a slot is processing (and the
// setting is on) until ctx is done; then it releases the lock and returns
// nil.
func (k *Keeper) Run(ctx context.Context, src Source) error {
	pokes, release := src.Changes()
	defer release()
	l := newLock(k.address, k.log)
	defer l.close()
	tried := false // asked for the lock since it was last wanted
	for {
		want := k.isEnabled() && Wanted(src.Status())
		switch {
		case want && !l.held() && !tried:
			// One try per busy spell: a status update every health
			// interval must not mean a call to a bus that said no.
			tried = true
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			l.acquire(cctx)
			cancel()
		case !want:
			tried = false
			if l.held() {
				l.release()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-pokes:
		case <-k.poke:
		}
	}
}
