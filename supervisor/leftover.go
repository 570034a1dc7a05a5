package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// StopLeftover stops a llama-server left behind by an earlier agent (one
// whose process group or job outlived it, or that was killed while its pid
// file was still on disk), with stopTimeout between the polite stop and the
// kill, as the settings say. It acts only when the process recorded in
// pidFile is still the one that agent started: the same binary, created at
// the recorded moment, so a pid reused by another program, or by another
// run of the same program, is never touched. It returns the pid it stopped
// (0 if none) and removes the pid file, unless ctx ended the wait while
// the process still lived: then the file stays, so the next agent still
// knows of it.
func StopLeftover(ctx context.Context, pidFile string, stopTimeout time.Duration) (int, error) {
	pid, binary, started, err := readPIDFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	keep := false
	defer func() {
		if !keep {
			os.Remove(pidFile)
		}
	}()
	if err != nil {
		return 0, err
	}
	if started == 0 {
		if processAlive(pid) {
			return 0, fmt.Errorf("pid file %s records no start time: pid %d is left alone, it may not be ours", pidFile, pid)
		}
		return 0, nil
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
			if !isOurServer(pid, binary, started) {
				break // it ended, and its pid was taken again meanwhile
			}
			signalLeftover(pid, true)
			deadline = time.Now().Add(stopTimeout)
		}
		select {
		case <-ctx.Done():
			keep = processAlive(pid)
			return pid, ctx.Err()
		case <-tick.C:
		}
	}
	return pid, nil
}
