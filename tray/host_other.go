//go:build !((linux || freebsd || openbsd || netbsd) && !android)

package tray

import (
	"context"
	"log/slog"
)

// otherHost: on Windows and macOS the notification area is always there.
type otherHost struct{}

func openHost(context.Context, *slog.Logger) (host, error) { return otherHost{}, nil }

func (otherHost) events() <-chan hostEvent { return nil }
func (otherHost) alive() bool              { return true }
func (otherHost) close()                   {}
