package main

import (
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "8ecbc10a1b2c3d4e5f60718293a4b5c6d7e8f901"
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"go install module@version", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"go build in a checkout", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260101120000-8ecbc10a1b2c"}, Settings: vcs("vcs.revision", rev)}, "v0.0.0-20260101120000-8ecbc10a1b2c"},
		{"pseudo-version, modified", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260101120000-8ecbc10a1b2c+dirty"}, Settings: vcs("vcs.revision", rev, "vcs.modified", "true")}, "v0.0.0-20260101120000-8ecbc10a1b2c+dirty"},
		{"devel with a revision", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", rev, "vcs.time", "2026-01-01T12:00:00Z", "vcs.modified", "false")}, "devel 8ecbc10a1b2c 2026-01-01T12:00:00Z"},
		{"devel, modified", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", rev, "vcs.modified", "true")}, "devel 8ecbc10a1b2c (modified)"},
		{"nothing known", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, `devel (no version or VCS information: build from a git checkout, or with -ldflags "-X main.version=...")`},
	} {
		if got := buildVersion(&tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
