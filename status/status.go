package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// State names one variant of Status. The strings are the JSON "state" values
// of docs/status.md and are part of the CLI contract: never rename them.
type State string

// The states; docs/status.md says when each is entered.
const (
	NotSpawning            State = "not_spawning"
	Starting               State = "starting"
	Running                State = "running"
	Restarting             State = "restarting"
	FailedAfterMaxRestarts State = "failed_after_max_restarts"
	Stopped                State = "stopped"
)

// States lists every state, in the order docs/status.md names them.
var States = []State{NotSpawning, Starting, Running, Restarting, FailedAfterMaxRestarts, Stopped}

// Status is one snapshot of what the supervisor is doing. Which fields are
// meaningful depends on State; MarshalJSON writes exactly the fields of each
// variant (docs/status.md), so a zero Attempt is still written for
// restarting and a PID only where a child exists. Every field travels in the
// JSON: a status read over the control socket is the same object the agent
// holds, so every text rendered from it (text.go) reads alike on both sides.
type Status struct {
	State State

	Reason    string // not_spawning: why, in words a person can act on
	PID       int    // starting, running: the child's pid
	Attempt   int    // restarting: which restart this is (1-based)
	Attempts  int    // failed_after_max_restarts: restarts spent
	LastError string // restarting, failed_after_max_restarts
	// MaxRestarts is the restart budget (the setting max_restarts), the N
	// of "attempt n/N": on restarting and failed_after_max_restarts. N
	// restarts allow N+1 tries.
	MaxRestarts int

	// Optional on every variant.
	Model         string
	Since         time.Time // when this state began
	SettingsError string    // the settings file is invalid; the last good settings are in force
	Warning       string    // e.g. a non-loopback host
	Restarts      int       // restarts this agent made since it started
	// Hint says what to do about LastError or a port conflict, in words a
	// person can act on ("remove --bogus from llama_server_args").
	Hint string
	// URL is the server's base URL ("http://127.0.0.1:8080"), while a child
	// exists: where its web UI and API are.
	URL string

	// Router mode: every model the router knows, with its state (models.go).
	Models []ModelState
	// While running: what the server is doing (zero fields are unknown),
	// and whether the model is asleep (sleep_after; the next request wakes
	// it).
	Activity Activity
	Sleeping bool
}

// Activity is what a running server is doing, as far as it tells: a zero
// field is one the server does not offer (or has not yet), and is left out
// of the JSON rather than guessed. It is a plain value, so a Status stays
// comparable.
type Activity struct {
	// SlotsTotal is how many requests the server can process at once (its
	// slots); 0 when it does not list them. SlotsBusy, how many are
	// processing one, is meaningful only when SlotsTotal > 0.
	SlotsBusy, SlotsTotal int
	// TokensPerSecond is the server's generation speed over the requests
	// that finished most recently; 0 unknown.
	TokensPerSecond float64
	// RSSBytes is the resident memory of the server and the processes it
	// started (a router's model servers); 0 unknown.
	RSSBytes uint64
}

// Known reports whether the server told anything about its activity.
func (a Activity) Known() bool { return a != Activity{} }

// Busy reports whether a slot is processing a request.
func (a Activity) Busy() bool { return a.SlotsTotal > 0 && a.SlotsBusy > 0 }

// portInUseSuffix ends the not_spawning reason of a port conflict; PortInUse
// writes it and PortConflict recognises it, so the conflict travels in the
// JSON as the reason a person reads.
const portInUseSuffix = " is already in use"

// PortInUse is the not_spawning reason when something else answers on the
// server's port.
func PortInUse(port int) string { return fmt.Sprintf("port %d%s", port, portInUseSuffix) }

// PortConflict reports whether s is a not_spawning caused by the port check
// (the "failures" notification level reports it; a gate refusal it does not).
func (s Status) PortConflict() bool {
	return s.State == NotSpawning && strings.HasPrefix(s.Reason, "port ") && strings.HasSuffix(s.Reason, portInUseSuffix)
}

// MaxField bounds each text field of a published status (Bounded). It is far
// more than a person reads, and little enough that a status line stays
// small whatever a settings file or a crashing server wrote: 20,000 bad
// flags once made a settings_error of over a megabyte.
const MaxField = 4096

// Bounded returns s with every text field cut to at most MaxField bytes (on
// a character boundary, the cut marked with "…"). The hub publishes only
// bounded statuses, so the tray, notifications and the control socket all
// read the same bounded text.
func (s Status) Bounded() Status {
	for _, f := range []*string{&s.Reason, &s.LastError, &s.Model, &s.SettingsError, &s.Warning, &s.Hint, &s.URL} {
		*f = cut(*f, MaxField)
	}
	s.Models = boundModels(s.Models)
	return s
}

// cut shortens s to at most n bytes, cutting on a character boundary and
// marking the cut with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	i := n - len(mark)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}

// Equal reports whether two statuses would serialise alike (ignoring Since),
// i.e. whether a change from a to b is worth publishing. It compares the
// JSON itself: that is the definition, and a status holds a list (Models).
func (s Status) Equal(o Status) bool {
	s.Since, o.Since = time.Time{}, time.Time{}
	a, aerr := json.Marshal(s)
	b, berr := json.Marshal(o)
	return aerr == nil && berr == nil && bytes.Equal(a, b)
}

// wireStatus is the JSON shape. Pointers make "present" explicit where a zero
// value is meaningful (attempt 0 never happens, attempts 0 does with
// max_restarts = 0).
type wireStatus struct {
	State         State         `json:"state"`
	Reason        string        `json:"reason,omitempty"`
	PID           *int          `json:"pid,omitempty"`
	Attempt       *int          `json:"attempt,omitempty"`
	Attempts      *int          `json:"attempts,omitempty"`
	LastError     *string       `json:"last_error,omitempty"`
	Model         string        `json:"model,omitempty"`
	Since         string        `json:"since,omitempty"`
	SettingsError string        `json:"settings_error,omitempty"`
	Warning       string        `json:"warning,omitempty"`
	MaxRestarts   *int          `json:"max_restarts,omitempty"`
	Restarts      int           `json:"restarts,omitempty"`
	Hint          string        `json:"hint,omitempty"`
	URL           string        `json:"url,omitempty"`
	Activity      *wireActivity `json:"activity,omitempty"`
	Sleeping      bool          `json:"sleeping,omitempty"`
	Models        []ModelState  `json:"models,omitempty"`
}

type wireActivity struct {
	SlotsBusy       *int     `json:"slots_busy,omitempty"`
	SlotsTotal      *int     `json:"slots_total,omitempty"`
	TokensPerSecond *float64 `json:"tokens_per_second,omitempty"`
	RSSBytes        *uint64  `json:"rss_bytes,omitempty"`
}

func (a Activity) wire() *wireActivity {
	if !a.Known() {
		return nil
	}
	var w wireActivity
	if a.SlotsTotal > 0 {
		busy, total := a.SlotsBusy, a.SlotsTotal
		w.SlotsBusy, w.SlotsTotal = &busy, &total
	}
	if a.TokensPerSecond > 0 {
		tps := a.TokensPerSecond
		w.TokensPerSecond = &tps
	}
	if a.RSSBytes > 0 {
		rss := a.RSSBytes
		w.RSSBytes = &rss
	}
	return &w
}

func (w *wireActivity) activity() Activity {
	var a Activity
	if w == nil {
		return a
	}
	if w.SlotsTotal != nil && *w.SlotsTotal > 0 {
		a.SlotsTotal = *w.SlotsTotal
		if w.SlotsBusy != nil {
			a.SlotsBusy = *w.SlotsBusy
		}
	}
	if w.TokensPerSecond != nil && *w.TokensPerSecond > 0 {
		a.TokensPerSecond = *w.TokensPerSecond
	}
	if w.RSSBytes != nil {
		a.RSSBytes = *w.RSSBytes
	}
	return a
}

// SinceFormat is the layout of "since" and of the watch stream's "at":
// RFC 3339 with nanoseconds.
const SinceFormat = time.RFC3339Nano

// MarshalJSON writes the variant's fields (docs/status.md).
func (s Status) MarshalJSON() ([]byte, error) {
	w := wireStatus{State: s.State, Model: s.Model, SettingsError: s.SettingsError, Warning: s.Warning, Restarts: s.Restarts, Models: s.Models, Hint: s.Hint}
	if s.PID > 0 {
		w.URL = s.URL
	}
	if s.State == Running {
		w.Activity, w.Sleeping = s.Activity.wire(), s.Sleeping
	}
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
		a, e, n := s.Attempt, s.LastError, s.MaxRestarts
		w.Attempt, w.LastError, w.MaxRestarts = &a, &e, &n
	case FailedAfterMaxRestarts:
		a, e, n := s.Attempts, s.LastError, s.MaxRestarts
		w.Attempts, w.LastError, w.MaxRestarts = &a, &e, &n
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	return escapeInvisible(b), nil
}

// escapeInvisible writes the characters encoding/json leaves raw but a
// terminal acts on, the C1 controls and the bidirectional controls (U+202E
// turns what follows around), as \u escapes: `ocm-tray status --json`
// printed to a terminal shows them as what they are. The JSON means the
// same.
func escapeInvisible(b []byte) []byte {
	if !bytes.ContainsFunc(b, invisible) {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if invisible(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

func invisible(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || unicode.Is(unicode.Bidi_Control, r)
}

// UnmarshalJSON reads what MarshalJSON writes (the CLI client uses it).
func (s *Status) UnmarshalJSON(b []byte) error {
	var w wireStatus
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Status{State: w.State, Reason: w.Reason, Model: w.Model, SettingsError: w.SettingsError, Warning: w.Warning, Restarts: w.Restarts,
		Models: w.Models, Sleeping: w.Sleeping, Hint: w.Hint, URL: w.URL, Activity: w.Activity.activity()}
	if w.MaxRestarts != nil {
		s.MaxRestarts = *w.MaxRestarts
	}
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

// legal holds the transition table of docs/status.md; every other pair is illegal.
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

// LegalTransition reports whether the transition table allows moving from one state to
// another. The initial state (from == "") may be not_spawning or starting
// (the gate runs first) or stopped (shut down before anything began).
func LegalTransition(from, to State) bool {
	if from == "" {
		return to == NotSpawning || to == Starting || to == Stopped
	}
	return legal[from][to]
}
