// Package supervisor keeps one llama-server child alive: health-gated start,
// liveness probes, exponential backoff and a restart budget (docs/supervision.md).
//
// Besides the standard library (and golang.org/x/sys) it imports only the
// project's status vocabulary and its log file writer: it takes a plain
// Config and publishes status.Status changes to a status.Hub; it knows
// nothing of TOML, the tray or D-Bus.
//
// # Goroutines
//
// One goroutine, the one that calls Run, owns the state machine and the
// child. Start, Stop, Restart and Apply are messages to it. Readers use the
// hub (Hub): a snapshot, every change in order, or coalesced pokes, none of
// which ever blocks the Run goroutine. Each health probe runs in a goroutine of its
// own, so a hung endpoint never blocks the state machine; every spawn runs on
// one dedicated OS thread (thread.go), because the child's parent-death
// signal is tied to the thread that forked it. Each child has three more:
// one per output pipe, draining it into the log until the last process
// holding it is gone, and one waiting for the child, which kills what is
// left of its process group before the exit is reported (child.go,
// group_unix.go). Log troubles come back to the Run goroutine as messages.
package supervisor
