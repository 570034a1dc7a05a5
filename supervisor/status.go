package supervisor

import (
	"encoding/json"
	"fmt"
	"time"
)

// State names one variant of Status. The strings are the JSON "state" values
// of DESIGN §5 and are part of the CLI contract: never rename them.
type State string

// The states of DESIGN §5.
const (
	NotSpawning            State = "not_spawning"
	Starting               State = "starting"
	Running                State = "running"
	Restarting             State = "restarting"
	FailedAfterMaxRestarts State = "failed_after_max_restarts"
	Stopped                State = "stopped"
)

// States lists every state, in the order DESIGN §5 names them.
var States = []State{NotSpawning, Starting, Running, Restarting, FailedAfterMaxRestarts, Stopped}

// Status is one snapshot of what the supervisor is doing. Which fields are
// meaningful depends on State; MarshalJSON writes exactly the fields of
// DESIGN §5 for each variant, so a zero Attempt is still written for
// restarting and a PID only where a child exists.
type Status struct {
	State State

	Reason    string // not_spawning: why, in words a person can act on
	PID       int    // starting, running: the child's pid
	Attempt   int    // restarting: which restart this is (1-based)
	Attempts  int    // failed_after_max_restarts: restarts spent
	MaxTries  int    // restarting: the budget (max_restarts), for "attempt n/N"; not in JSON
	LastError string // restarting, failed_after_max_restarts

	// Optional on every variant.
	Model         string
	Since         time.Time // when this state began
	SettingsError string    // the settings file is invalid; the last good settings are in force
	Warning       string    // e.g. a non-loopback host

	// PortConflict marks a not_spawning caused by the port check; it decides
	// whether the "failures" notification level reports it. Not in JSON.
	PortConflict bool
}

// HasChild reports whether a child process exists in this state.
func (s Status) HasChild() bool { return s.PID > 0 }

// Equal reports whether two statuses would serialise alike (ignoring Since),
// i.e. whether a change from a to b is worth publishing.
func (s Status) Equal(o Status) bool {
	s.Since, o.Since = time.Time{}, time.Time{}
	return s == o
}

// wireStatus is the JSON shape. Pointers make "present" explicit where a zero
// value is meaningful (attempt 0 never happens, attempts 0 does with
// max_restarts = 0).
type wireStatus struct {
	State         State   `json:"state"`
	Reason        string  `json:"reason,omitempty"`
	PID           *int    `json:"pid,omitempty"`
	Attempt       *int    `json:"attempt,omitempty"`
	Attempts      *int    `json:"attempts,omitempty"`
	LastError     *string `json:"last_error,omitempty"`
	Model         string  `json:"model,omitempty"`
	Since         string  `json:"since,omitempty"`
	SettingsError string  `json:"settings_error,omitempty"`
	Warning       string  `json:"warning,omitempty"`
}

// SinceFormat is the layout of "since" and of the watch stream's "at":
// RFC 3339 with nanoseconds.
const SinceFormat = time.RFC3339Nano

// MarshalJSON writes the variant's fields of DESIGN §5.
func (s Status) MarshalJSON() ([]byte, error) {
	w := wireStatus{State: s.State, Model: s.Model, SettingsError: s.SettingsError, Warning: s.Warning}
	if !s.Since.IsZero() {
		w.Since = s.Since.Format(SinceFormat)
	}
	if s.PID > 0 {
		pid := s.PID
		w.PID = &pid
	}
	switch s.State {
	case NotSpawning:
		w.Reason = s.Reason
	case Restarting:
		a, e := s.Attempt, s.LastError
		w.Attempt, w.LastError = &a, &e
	case FailedAfterMaxRestarts:
		a, e := s.Attempts, s.LastError
		w.Attempts, w.LastError = &a, &e
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes (the CLI client uses it).
func (s *Status) UnmarshalJSON(b []byte) error {
	var w wireStatus
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Status{State: w.State, Reason: w.Reason, Model: w.Model, SettingsError: w.SettingsError, Warning: w.Warning}
	if w.PID != nil {
		s.PID = *w.PID
	}
	if w.Attempt != nil {
		s.Attempt = *w.Attempt
	}
	if w.Attempts != nil {
		s.Attempts = *w.Attempts
	}
	if w.LastError != nil {
		s.LastError = *w.LastError
	}
	if w.Since != "" {
		t, err := time.Parse(SinceFormat, w.Since)
		if err != nil {
			return fmt.Errorf("since: %w", err)
		}
		s.Since = t
	}
	switch s.State {
	case NotSpawning, Starting, Running, Restarting, FailedAfterMaxRestarts, Stopped:
	default:
		return fmt.Errorf("unknown state %q", s.State)
	}
	return nil
}

// legal holds the transition table of DESIGN §5; every other pair is illegal.
// A state "to itself" is listed where the table allows it: Restart from
// starting/running goes back to starting with a new child, and not_spawning
// may change its reason. Restarting never repeats itself: the next attempt
// passes through starting (or, when the spawn fails, not_spawning).
var legal = map[State]map[State]bool{
	NotSpawning:            {NotSpawning: true, Starting: true, Stopped: true},
	Starting:               {NotSpawning: true, Starting: true, Running: true, Restarting: true, FailedAfterMaxRestarts: true, Stopped: true},
	Running:                {NotSpawning: true, Starting: true, Restarting: true, FailedAfterMaxRestarts: true, Stopped: true},
	Restarting:             {NotSpawning: true, Starting: true, Stopped: true},
	FailedAfterMaxRestarts: {NotSpawning: true, Starting: true, Stopped: true},
	Stopped:                {NotSpawning: true, Starting: true, Stopped: true},
}

// LegalTransition reports whether DESIGN §5 allows moving from one state to
// another. The initial state (from == "") may be not_spawning or starting
// (the gate runs first) or stopped (shut down before anything began).
func LegalTransition(from, to State) bool {
	if from == "" {
		return to == NotSpawning || to == Starting || to == Stopped
	}
	return legal[from][to]
}
