package main

import (
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

func TestWaiter(t *testing.T) {
	var (
		running    = supervisor.Status{State: supervisor.Running, PID: 10}
		running2   = supervisor.Status{State: supervisor.Running, PID: 11}
		starting2  = supervisor.Status{State: supervisor.Starting, PID: 11}
		starting10 = supervisor.Status{State: supervisor.Starting, PID: 10}
		restarting = supervisor.Status{State: supervisor.Restarting, Attempt: 1, LastError: "exit status 1"}
		failed     = supervisor.Status{State: supervisor.FailedAfterMaxRestarts, Attempts: 1, LastError: "exit status 1"}
		refused    = supervisor.Status{State: supervisor.NotSpawning, Reason: "model file x.gguf not found"}
		portBusy   = supervisor.Status{State: supervisor.NotSpawning, Reason: "port 8080 is already in use"}
		stopped    = supervisor.Status{State: supervisor.Stopped}
		stoppedErr = supervisor.Status{State: supervisor.Stopped, SettingsError: "bad file"}
		runningErr = supervisor.Status{State: supervisor.Running, PID: 10, SettingsError: "bad file"}
	)
	for _, tc := range []struct {
		name  string
		cmd   string
		seen  []supervisor.Status // the first is the status before the request
		grace bool                // whether silence may be the answer
		ends  int                 // index in seen of the outcome; -1 still waiting
		exit  int
	}{
		{"start from stopped", "start", []supervisor.Status{stopped, starting2, running2}, false, 2, 0},
		{"start while running changes nothing", "start", []supervisor.Status{running}, false, 0, 0},
		{"start while starting waits", "start", []supervisor.Status{starting10, running}, false, 1, 0},
		{"start while restarting waits through", "start", []supervisor.Status{restarting, starting2, running2}, false, 2, 0},
		{"start ends in failed", "start", []supervisor.Status{stopped, starting2, restarting, starting2, failed}, false, 4, 1},
		{"start from failed", "start", []supervisor.Status{failed, starting2, running2}, false, 2, 0},
		{"start refused by the gate", "start", []supervisor.Status{stopped, refused}, false, 1, 1},
		{"a settings change while stopped is not the answer", "start", []supervisor.Status{stopped, stoppedErr, starting2, running2}, false, 3, 0},
		{"start from not_spawning, gate passes now", "start", []supervisor.Status{refused, starting2, running2}, true, 2, 0},
		{"start from not_spawning, another refusal", "start", []supervisor.Status{refused, portBusy}, true, 1, 1},
		{"start from not_spawning, silence", "start", []supervisor.Status{refused}, true, -1, 0},
		{"agent stops during start", "start", []supervisor.Status{stopped, starting2, stopped}, false, 2, 1},

		{"stop from running", "stop", []supervisor.Status{running, stopped}, false, 1, 0},
		{"stop while stopped", "stop", []supervisor.Status{stopped}, false, 0, 0},
		{"stop while restarting", "stop", []supervisor.Status{restarting, stopped}, false, 1, 0},

		{"restart from running", "restart", []supervisor.Status{running, starting2, running2}, false, 2, 0},
		{"restart: a change of the old child is not the answer", "restart", []supervisor.Status{running, runningErr, starting2, running2}, false, 3, 0},
		{"restart ends refused", "restart", []supervisor.Status{running, refused}, false, 1, 1},
		{"restart from starting", "restart", []supervisor.Status{starting10, starting2, running2}, false, 2, 0},
		{"restart from stopped", "restart", []supervisor.Status{stopped, starting2, running2}, false, 2, 0},
		{"restart from failed ends failed", "restart", []supervisor.Status{failed, starting2, failed}, false, 2, 1},
		{"restart from restarting", "restart", []supervisor.Status{restarting, starting2, running2}, false, 2, 0},
		{"restart from not_spawning, silence", "restart", []supervisor.Status{refused}, true, -1, 0},
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
