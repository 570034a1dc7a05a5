package notify

import (
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// Statuses the tables below move between.
var (
	placeholder = status.Status{State: status.NotSpawning, Reason: "not started yet"}
	gateRefused = status.Status{State: status.NotSpawning, Reason: "backend is auto: nothing to spawn"}
	portBusy    = status.Status{State: status.NotSpawning, Reason: status.PortInUse(8080)}
	// The same cause with another reason: the settings moved the port.
	portBusyReworded = status.Status{State: status.NotSpawning, Reason: status.PortInUse(8081)}
	badSettings      = status.Status{State: status.NotSpawning, Reason: "invalid settings",
		SettingsError: "settings.toml:3: port: not a number"}
	starting    = status.Status{State: status.Starting, PID: 10, Model: "tiny"}
	startingB   = status.Status{State: status.Starting, PID: 11, Model: "tiny"}
	running     = status.Status{State: status.Running, PID: 10, Model: "tiny"}
	restarting1 = status.Status{State: status.Restarting, Attempt: 1, MaxRestarts: 3,
		LastError: "exit status 1: main: couldn't bind HTTP server socket"}
	restarting2 = status.Status{State: status.Restarting, Attempt: 2, MaxRestarts: 3,
		LastError: "signal: aborted"}
	failed = status.Status{State: status.FailedAfterMaxRestarts, Attempts: 3,
		LastError: "signal: aborted: gguf_init_from_file_impl: invalid magic characters"}
	// Failed at once: the budget was 3, no retry fixes an unknown argument.
	unfixable = status.Status{State: status.FailedAfterMaxRestarts, Attempts: 0, MaxRestarts: 3,
		LastError: "exited with status 1: error: invalid argument: --bogus", Hint: "remove it from llama_server_args"}
	stopped         = status.Status{State: status.Stopped}
	runningBadFile  = withSettingsError(running, "settings.toml:7: unknown key \"prot\"")
	runningBadFile2 = withSettingsError(running, "settings.toml:8: unknown key \"hots\"")
)

func withSettingsError(s status.Status, err string) status.Status {
	s.SettingsError = err
	return s
}

func TestShouldNotify(t *testing.T) {
	tests := []struct {
		name         string
		prev, next   status.Status
		afterFailure bool
		all, fails   bool // the answer at "all" and at "failures"; "off" is always false
	}{
		// The first status is a snapshot, not a transition.
		{"first: placeholder", status.Status{}, placeholder, false, false, false},
		{"first: running", status.Status{}, running, false, false, false},
		{"first: failed", status.Status{}, failed, false, true, true},
		{"first: port conflict", status.Status{}, portBusy, false, true, true},
		{"first: settings error", status.Status{}, runningBadFile, false, true, true},

		// Ordinary life.
		{"placeholder to starting", placeholder, starting, false, true, false},
		{"starting to running", starting, running, false, true, false},
		{"running to stopped", running, stopped, false, true, false},
		{"stopped to starting", stopped, starting, false, true, false},
		{"restart from running", running, starting, false, true, false},
		{"restart from starting: same state", starting, startingB, false, false, false},
		{"gate refusal: not_spawning stays", placeholder, gateRefused, false, false, false},

		// Restarts.
		{"running to restarting", running, restarting1, false, true, true},
		{"restarting to starting", restarting1, starting, true, true, false},
		{"starting to next attempt", starting, restarting2, true, true, true},
		{"attempt change within restarting", restarting1, restarting2, true, true, true},
		{"same attempt again", restarting1, restarting1, true, false, false},
		{"restarting to gate refusal", restarting1, gateRefused, true, true, false},
		{"restarting to port conflict", restarting1, portBusy, true, true, true},

		// Giving up.
		{"starting to failed", starting, failed, true, true, true},
		{"running to failed (max_restarts 0)", running, failed, false, true, true},
		{"failed stays failed", failed, failed, true, false, false},
		{"failed to starting (Start)", failed, starting, true, true, false},
		{"failed to stopped", failed, stopped, true, true, false},

		// Port conflicts.
		{"port conflict appears", placeholder, portBusy, false, true, true},
		{"port conflict reworded", portBusy, portBusyReworded, true, false, false},
		{"port conflict clears", portBusy, starting, true, true, false},
		{"recovery after port conflict", starting, running, true, true, true},
		{"port conflict to invalid settings", portBusy, badSettings, true, true, true},

		// Settings.
		{"not_spawning for invalid settings", gateRefused, badSettings, false, true, true},
		{"invalid settings again", badSettings, badSettings, true, false, false},
		{"running after restart with bad settings", running, badSettings, false, true, true},
		{"settings error appears while running", running, runningBadFile, false, true, true},
		{"settings error reworded", runningBadFile, runningBadFile2, false, false, false},
		{"settings error fixed", runningBadFile, running, false, false, false},
		{"recovery after invalid settings", starting, running, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				level status.NotifyLevel
				want  bool
			}{
				{status.NotifyAll, tt.all},
				{status.NotifyFailures, tt.fails},
				{status.NotifyOff, false},
				{"", tt.all},     // unset: the default
				{"loud", tt.all}, // unknown: the default
			} {
				if got := ShouldNotify(c.level, tt.prev, tt.next, tt.afterFailure); got != c.want {
					t.Errorf("ShouldNotify(%q, %s, %s, afterFailure=%v) = %v, want %v",
						c.level, tt.prev.State, tt.next.State, tt.afterFailure, got, c.want)
				}
			}
		})
	}
}

// "all" reports everything "failures" does.
func TestShouldNotifyAllCoversFailures(t *testing.T) {
	statuses := []status.Status{{}, placeholder, gateRefused, portBusy, portBusyReworded, badSettings,
		starting, startingB, running, restarting1, restarting2, failed, stopped, runningBadFile, runningBadFile2}
	for _, prev := range statuses {
		for _, next := range statuses[1:] {
			for _, af := range []bool{false, true} {
				if ShouldNotify(status.NotifyFailures, prev, next, af) && !ShouldNotify(status.NotifyAll, prev, next, af) {
					t.Errorf("%+v -> %+v (afterFailure=%v): failures notifies, all does not", prev, next, af)
				}
			}
		}
	}
}

// The decider carries "a failure happened" across starting, which is how a
// recovery is told from an ordinary start.
func TestDeciderSequences(t *testing.T) {
	tests := []struct {
		name  string
		level status.NotifyLevel
		steps []status.Status
		want  []bool
	}{
		{"failures: recovery after port conflict", status.NotifyFailures,
			[]status.Status{placeholder, portBusy, portBusyReworded, starting, running},
			[]bool{false, true, false, false, true}},
		{"failures: recovery after restarts", status.NotifyFailures,
			[]status.Status{placeholder, starting, running, restarting1, starting, restarting2, starting, running},
			[]bool{false, false, false, true, false, true, false, true}},
		{"failures: recovery after failed and Start", status.NotifyFailures,
			[]status.Status{running, failed, starting, running},
			[]bool{false, true, false, true}},
		{"failures: ordinary start is quiet", status.NotifyFailures,
			[]status.Status{placeholder, starting, running, stopped, starting, running},
			[]bool{false, false, false, false, false, false}},
		{"failures: a recovery is reported once", status.NotifyFailures,
			[]status.Status{restarting1, starting, running, starting, running},
			[]bool{true, false, true, false, false}},
		{"all: every transition", status.NotifyAll,
			[]status.Status{placeholder, starting, running, restarting1, starting, restarting2, starting, failed},
			[]bool{false, true, true, true, true, true, true, true}},
		{"off: nothing", status.NotifyOff,
			[]status.Status{placeholder, portBusy, starting, failed, runningBadFile},
			[]bool{false, false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d decider
			for i, s := range tt.steps {
				_, got := d.step(tt.level, s)
				if got != tt.want[i] {
					t.Errorf("step %d (%s): notify = %v, want %v", i, s.State, got, tt.want[i])
				}
			}
		})
	}
}

func withHint(s status.Status, hint string) status.Status {
	s.Hint = hint
	return s
}
