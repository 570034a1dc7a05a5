package main

import (
	"runtime/debug"
	"strings"
)

// version is set at build time (-ldflags "-X main.version=1.2.3"). Left
// empty, the version comes from the build information Go records.
var version = ""

// versionString is what --version prints after "ocm-tray ".
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module information)"
	}
	return buildVersion(bi)
}

// buildVersion reads the version Go recorded: the module's version for
// `go install module@version`, the pseudo-version `go build` derives from
// the checkout, or, where neither exists ("(devel)"), the VCS revision and
// whether the tree had local changes.
func buildVersion(bi *debug.BuildInfo) string {
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		if modified && !strings.HasSuffix(v, "+dirty") {
			v += "+dirty"
		}
		return v
	}
	if rev == "" {
		return "devel (no version or VCS information: build from a git checkout, or with -ldflags \"-X main.version=...\")"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	s := "devel " + rev
	if at != "" {
		s += " " + at
	}
	if modified {
		s += " (modified)"
	}
	return s
}
