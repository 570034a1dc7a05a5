//go:build !linux

package power

import (
	"context"
	"log/slog"
)

// lock does nothing where there is no logind.
type lock struct{}

func newLock(string, *slog.Logger) *lock { return &lock{} }

func (*lock) held() bool              { return false }
func (*lock) acquire(context.Context) {}
func (*lock) release()                {}
func (*lock) close()                  {}
