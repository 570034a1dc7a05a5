package status

// NotifyLevel is how much of the status's story the desktop notifications
// tell: the setting [notifications] level (docs/status.md, "Notifications").
type NotifyLevel string

// The notification levels.
const (
	NotifyAll      NotifyLevel = "all" // every transition (the default)
	NotifyFailures NotifyLevel = "failures"
	NotifyOff      NotifyLevel = "off"
)

// NotifyLevels lists the valid levels, the default first.
var NotifyLevels = []NotifyLevel{NotifyAll, NotifyFailures, NotifyOff}
