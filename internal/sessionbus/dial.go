package sessionbus

import (
	"context"
	"errors"

	"github.com/godbus/dbus/v5"
)

// Dial opens a private connection to the bus at addr (the session bus, or
// the system bus: any address), authenticated and registered, within ctx.
// godbus's Auth and Hello take no context; closing the connection is what
// ends them, so a bus that accepts but never answers costs ctx's time, not
// a hang. The error from the dial itself is returned as it is, so that
// callers can tell "no bus there" from "a bus that does not answer".
func Dial(ctx context.Context, addr string) (*dbus.Conn, error) {
	conn, err := dbus.Dial(addr)
	if err != nil {
		return nil, &DialError{Err: err}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err = conn.Auth(nil)
	if err == nil {
		err = conn.Hello()
	}
	if !stop() {
		err = errors.Join(ctx.Err(), err)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// DialError is a bus address nobody answers on.
type DialError struct{ Err error }

func (e *DialError) Error() string { return e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }
