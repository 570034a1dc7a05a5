package supervisor

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"
)

// StopLeftover stops a llama-server left behind by an earlier agent (one
// that died on a system without a parent-death signal, or was killed while
// its pid file was still on disk). It acts only when the process recorded in
// pidFile still runs the recorded binary, so a pid reused by an unrelated
// program is never touched. It returns the pid it stopped (0 if none) and
// removes the pid file.
func StopLeftover(ctx context.Context, pidFile string, stopTimeout time.Duration) (int, error) {
	pid, binary, started, err := readPIDFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	defer os.Remove(pidFile)
	if err != nil {
		return 0, err
	}
	if !isOurServer(pid, binary, started) {
		return 0, nil
	}
	if err := signalLeftover(pid, false); err != nil {
		return 0, err
	}
	// Not our child: we cannot wait(2) for it, so poll for its end.
	deadline := time.Now().Add(stopTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for processAlive(pid) {
		if time.Now().After(deadline) {
			signalLeftover(pid, true)
			deadline = time.Now().Add(stopTimeout)
		}
		select {
		case <-ctx.Done():
			return pid, ctx.Err()
		case <-tick.C:
		}
	}
	return pid, nil
}
