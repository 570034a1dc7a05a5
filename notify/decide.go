package notify

import "github.com/OpenCircuitDev/ocm-tray/status"

// IsFailure reports whether s is one of the statuses the "failures" level
// reports: restarting, failed_after_max_restarts, or not_spawning because of
// a port conflict or invalid settings. A plain gate refusal (no backend, no
// model chosen) is the user's choice, not a failure.
func IsFailure(s status.Status) bool {
	switch s.State {
	case status.Restarting, status.FailedAfterMaxRestarts:
		return true
	case status.NotSpawning:
		return notSpawningCause(s) != causeNone
	}
	return false
}

type cause int

const (
	causeNone cause = iota
	causePort
	causeSettings
)

// notSpawningCause says why a not_spawning is a failure, if it is one. A
// port conflict wins: it is the more specific reason.
func notSpawningCause(s status.Status) cause {
	switch {
	case s.State != status.NotSpawning:
		return causeNone
	case s.PortConflict():
		return causePort
	case s.SettingsError != "":
		return causeSettings
	}
	return causeNone
}

// ShouldNotify reports whether the change from prev to next deserves a
// notification at level.
//
//   - "off": never.
//   - "failures": a new restart attempt, failed_after_max_restarts, a
//     not_spawning caused by a port conflict or invalid settings (once per
//     cause), settings_error appearing, and running again after a failure.
//   - "all" (and any unknown level, since "all" is the default): everything
//     "failures" reports, plus every change of state and every new attempt
//     within restarting.
//
// afterFailure says whether a failure (IsFailure) has been seen since the
// child last ran. The supervisor always passes through starting on its way
// back to running, so prev alone cannot tell a recovery from an ordinary
// start; Run keeps this one bit of history.
//
// A zero prev (State "") means next is the first status seen: a snapshot,
// not a transition, so it is reported only when it is a failure or carries
// a settings error. That keeps the placeholder status every agent starts
// with from greeting the user at each login.
func ShouldNotify(level status.NotifyLevel, prev, next status.Status, afterFailure bool) bool {
	if level == status.NotifyOff {
		return false
	}
	if prev.State == "" {
		return IsFailure(next) || next.SettingsError != ""
	}
	news := settingsErrorAppeared(prev, next) || failureNews(prev, next, afterFailure)
	if level == status.NotifyFailures {
		return news
	}
	return news || prev.State != next.State || newAttempt(prev, next)
}

// newAttempt reports a restarting that is not the restarting before it.
func newAttempt(prev, next status.Status) bool {
	return next.State == status.Restarting &&
		(prev.State != status.Restarting || prev.Attempt != next.Attempt)
}

func settingsErrorAppeared(prev, next status.Status) bool {
	return prev.SettingsError == "" && next.SettingsError != ""
}

// failureNews reports what the "failures" level announces, settings errors
// aside.
func failureNews(prev, next status.Status, afterFailure bool) bool {
	switch next.State {
	case status.Restarting:
		return newAttempt(prev, next)
	case status.FailedAfterMaxRestarts:
		return prev.State != status.FailedAfterMaxRestarts
	case status.NotSpawning:
		c := notSpawningCause(next)
		// The port is re-checked every health_check_interval and the reason
		// may be reworded; only a new cause is news.
		return c != causeNone && notSpawningCause(prev) != c
	case status.Running:
		return afterFailure && prev.State != status.Running
	}
	return false
}
