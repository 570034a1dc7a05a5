// Package notify turns supervisor status changes into desktop notifications
// (docs/status.md, "Notifications").
//
// The decisions are pure functions: ShouldNotify says whether a change is
// worth a notification at the user's level, Compose says what it reads.
// Notifier.Run applies them to every event of a supervisor Subscription, in
// order, and hands the result to a sender.
//
// # Goroutines
//
// Run owns two goroutines and both end before it returns: the caller's, which
// drains events and decides, and one sender, which delivers. They meet in a
// queue of at most two messages that never blocks the event loop: a newer
// message replaces an older one that has not gone out yet, except that a
// critical message is never dropped for a non-critical one. Every delivery is
// bounded by a timeout, so a notification server that owns its bus name but
// never answers delays notifications, never the supervisor or the tray.
//
// # Linux
//
// Notifications go over a private session-bus connection of our own, opened
// at the first notification and closed when Run returns. The connection
// godbus shares process-wide (dbus.SessionBus) belongs to the tray: a
// NotificationClosed signal arriving on it ends systray's re-registration
// watcher (docs/desktop.md), so this package never touches it, and beeep, which
// uses it, is not even linked on Linux. Each notification replaces the
// previous one (replaces_id) instead of piling up.
//
// # Windows and macOS
//
// beeep delivers; a critical message goes through beeep.Alert, the only
// beeep call that marks a notification urgent.
package notify
