package desktoptest

import "strings"

// This file has no build constraint: tray's helper process, whose race
// reports it filters, is built on every platform.

// RaceReports splits the race detector's reports out of a program's
// stderr, one string per report (the lines between "WARNING: DATA RACE"
// and the closing "==================").
func RaceReports(lines []string) []string {
	var out, cur []string
	in := false
	for _, l := range lines {
		switch {
		case strings.Contains(l, "WARNING: DATA RACE"):
			in, cur = true, nil
		case in && strings.HasPrefix(l, "=================="):
			out = append(out, strings.Join(cur, "\n"))
			in = false
		case in:
			cur = append(cur, l)
		}
	}
	return out
}

// LibraryRace reports whether both accesses of a race report happen inside
// systray or godbus (their first frame outside the runtime and reflect).
// fyne.io/systray v1.12.2 SetIcon stores the new pixmap with prop.SetMust,
// and godbus's dbus.Store writes into the existing []PX element in place,
// while prop.Get hands that same slice to a reply encoded after the lock is
// released: a host reading IconPixmap during SetIcon races with it. And its
// GetLayout starts a refresh that bumps the menu version without the lock
// GetLayout read it under. Nothing outside the library can order these.
func LibraryRace(report string) bool {
	accesses := 0
	lines := strings.Split(report, "\n")
	for i, l := range lines {
		if !(strings.HasPrefix(l, "Read at") || strings.HasPrefix(l, "Write at") ||
			strings.HasPrefix(l, "Previous read at") || strings.HasPrefix(l, "Previous write at")) {
			continue
		}
		accesses++
		ok := false
		for _, f := range lines[i+1:] {
			f = strings.TrimSpace(f)
			if f == "" {
				break
			}
			if strings.HasPrefix(f, "/") || strings.HasPrefix(f, "reflect.") || strings.HasPrefix(f, "runtime.") || strings.HasPrefix(f, "sync.") {
				continue
			}
			ok = strings.HasPrefix(f, "github.com/godbus/dbus/") || strings.HasPrefix(f, "fyne.io/systray.")
			break
		}
		if !ok {
			return false
		}
	}
	return accesses >= 2
}
