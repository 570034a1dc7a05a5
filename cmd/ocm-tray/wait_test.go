package main

import (
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

func TestWaiter(t *testing.T) {
	var (
		running    = status.Status{State: status.Running, PID: 10}
		running2   = status.Status{State: status.Running, PID: 11}
		starting2  = status.Status{State: status.Starting, PID: 11}
		starting10 = status.Status{State: status.Starting, PID: 10}
		restarting = status.Status{State: status.Restarting, Attempt: 1, LastError: "exit status 1"}
		failed     = status.Status{State: status.FailedAfterMaxRestarts, Attempts: 1, LastError: "exit status 1"}
		refused    = status.Status{State: status.NotSpawning, Reason: "model file x.gguf not found"}
		portBusy   = status.Status{State: status.NotSpawning, Reason: "port 8080 is already in use"}
		stopped    = status.Status{State: status.Stopped}
		stoppedErr = status.Status{State: status.Stopped, SettingsError: "bad file"}
		runningErr = status.Status{State: status.Running, PID: 10, SettingsError: "bad file"}
	)
	for _, tc := range []struct {
		name  string
		cmd   string
		seen  []status.Status // the first is the status before the request
		grace bool            // whether silence may be the answer
		ends  int             // index in seen of the outcome; -1 still waiting
		exit  int
	}{
		{"start from stopped", "start", []status.Status{stopped, starting2, running2}, false, 2, 0},
		{"start while running changes nothing", "start", []status.Status{running}, false, 0, 0},
		{"start while starting waits", "start", []status.Status{starting10, running}, false, 1, 0},
		{"start while restarting waits through", "start", []status.Status{restarting, starting2, running2}, false, 2, 0},
		{"start ends in failed", "start", []status.Status{stopped, starting2, restarting, starting2, failed}, false, 4, 1},
		{"start from failed", "start", []status.Status{failed, starting2, running2}, false, 2, 0},
		{"start refused by the gate", "start", []status.Status{stopped, refused}, false, 1, 1},
		{"a settings change while stopped is not the answer", "start", []status.Status{stopped, stoppedErr, starting2, running2}, false, 3, 0},
		{"start from not_spawning, gate passes now", "start", []status.Status{refused, starting2, running2}, true, 2, 0},
		{"start from not_spawning, another refusal", "start", []status.Status{refused, portBusy}, true, 1, 1},
		{"start from not_spawning, silence", "start", []status.Status{refused}, true, -1, 0},
		{"agent stops during start", "start", []status.Status{stopped, starting2, stopped}, false, 2, 1},

		{"stop from running", "stop", []status.Status{running, stopped}, false, 1, 0},
		{"stop while stopped", "stop", []status.Status{stopped}, false, 0, 0},
		{"stop while restarting", "stop", []status.Status{restarting, stopped}, false, 1, 0},

		{"restart from running", "restart", []status.Status{running, starting2, running2}, false, 2, 0},
		{"restart: a change of the old child is not the answer", "restart", []status.Status{running, runningErr, starting2, running2}, false, 3, 0},
		{"restart ends refused", "restart", []status.Status{running, refused}, false, 1, 1},
		{"restart from starting", "restart", []status.Status{starting10, starting2, running2}, false, 2, 0},
		{"restart from stopped", "restart", []status.Status{stopped, starting2, running2}, false, 2, 0},
		{"restart from failed ends failed", "restart", []status.Status{failed, starting2, failed}, false, 2, 1},
		{"restart from restarting", "restart", []status.Status{restarting, starting2, running2}, false, 2, 0},
		{"restart from not_spawning, silence", "restart", []status.Status{refused}, true, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWaiter(tc.cmd, tc.seen[0])
			if w.needsGrace() != tc.grace {
				t.Errorf("needsGrace = %v, want %v", w.needsGrace(), tc.grace)
			}
			ended := -1
			for i, st := range tc.seen {
				if w.see(st) && w.finished(st) {
					ended = i
					break
				}
			}
			if ended != tc.ends {
				t.Fatalf("outcome at %d, want %d", ended, tc.ends)
			}
			if ended >= 0 && w.exitCode() != tc.exit {
				t.Errorf("exit %d, want %d (last %+v)", w.exitCode(), tc.exit, w.last)
			}
		})
	}
}
