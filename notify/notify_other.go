//go:build !linux

package notify

import (
	"context"
	"errors"

	"github.com/gen2brain/beeep"
)

// defaultIcon is none: beeep wants a file path, and a missing one makes it
// fall back to a plainer notifier on macOS.
const defaultIcon = ""

func init() { beeep.AppName = appName }

// errStillSending means an earlier beeep call, abandoned at its timeout, has
// not returned yet.
var errStillSending = errors.New("previous notification still being delivered")

// beeepBackend sends through beeep, which takes no context: a call that
// outlives its timeout is abandoned, and until it returns further messages
// are dropped, so at most one such call is ever outstanding. That call is
// the one goroutine that can outlive Run; it ends when the OS returns.
type beeepBackend struct {
	icon     string
	inflight <-chan error // the abandoned call, until it returns
}

func newBackend(cfg backendConfig) backend { return &beeepBackend{icon: cfg.icon} }

func (b *beeepBackend) send(ctx context.Context, m Message) error {
	if b.inflight != nil {
		select {
		case <-b.inflight:
			b.inflight = nil
		default:
			return errStillSending
		}
	}
	done := make(chan error, 1)
	go func() {
		// beeep has no buttons: the text says what they would do.
		if m.Critical {
			done <- beeep.Alert(m.Summary, m.TextBody(), b.icon)
		} else {
			done <- beeep.Notify(m.Summary, m.TextBody(), b.icon)
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		b.inflight = done
		return ctx.Err()
	}
}

func (b *beeepBackend) close() {}
