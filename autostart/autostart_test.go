//go:build !windows

package autostart

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adrg/xdg"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// useConfigHome points XDG_CONFIG_HOME at a fresh directory, and the
// system-wide wants directory at another, for the rest of the test.
func useConfigHome(t *testing.T) (configHome, systemWants string) {
	t.Helper()
	t.Cleanup(xdg.Reload) // registered first, so it runs after Setenv's restore
	configHome = t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", configHome)
	xdg.Reload()
	systemWants = t.TempDir()
	old := systemUnitWantsDirs
	systemUnitWantsDirs = []string{systemWants}
	t.Cleanup(func() { systemUnitWantsDirs = old })
	return configHome, systemWants
}

func TestEntryPath(t *testing.T) {
	home, _ := useConfigHome(t)
	if got, want := EntryPath(), filepath.Join(home, "autostart", "ocm-tray.desktop"); got != want {
		t.Fatalf("EntryPath() = %q, want %q", got, want)
	}
}

func TestEnableWritesEntry(t *testing.T) {
	home, _ := useConfigHome(t)
	const exe = "/opt/ocm tray/bin/ocm-tray"
	path, err := Enable(exe)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, "autostart", "ocm-tray.desktop"); path != want {
		t.Fatalf("Enable path = %q, want %q", path, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, Entry(exe)) {
		t.Fatalf("file holds\n%s\nwant\n%s", data, Entry(exe))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("autostart dir holds %d files, want only the entry (no temporary left)", len(entries))
	}
	st, err := Check()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Enabled || st.Path != path || st.UnitEnabled {
		t.Fatalf("Check() = %+v, want enabled at %s, unit not enabled", st, path)
	}
	validate(t, path)
}

func TestEnableReplacesSwitchedOffEntry(t *testing.T) {
	useConfigHome(t)
	path := EntryPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	off := strings.Replace(string(Entry("/usr/bin/ocm-tray")), "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false", 1)
	if err := os.WriteFile(path, []byte(off), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := Check(); err != nil || st.Enabled {
		t.Fatalf("Check() = %+v, %v; want not enabled (X-GNOME-Autostart-enabled=false)", st, err)
	}
	if _, err := Enable("/usr/local/bin/ocm-tray"); err != nil {
		t.Fatal(err)
	}
	if st, err := Check(); err != nil || !st.Enabled {
		t.Fatalf("after Enable, Check() = %+v, %v; want enabled", st, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
}

func TestEnableRefusesUnusablePath(t *testing.T) {
	useConfigHome(t)
	for _, exe := range []string{"", "ocm-tray", "bin/ocm-tray", "/opt/new\nline/ocm-tray", "/opt/tab\t/ocm-tray", "/opt/\xff/ocm-tray"} {
		if _, err := Enable(exe); !errors.Is(err, ErrInvalidExe) {
			t.Errorf("Enable(%q) error = %v, want ErrInvalidExe", exe, err)
		}
	}
	if _, err := os.Stat(filepath.Dir(EntryPath())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused Enable created %s (err %v)", filepath.Dir(EntryPath()), err)
	}
}

func TestDisable(t *testing.T) {
	useConfigHome(t)
	path, removed, err := Disable()
	if err != nil || removed {
		t.Fatalf("Disable() with no entry = %q, %v, %v; want removed=false, nil", path, removed, err)
	}
	if _, err := Enable("/usr/bin/ocm-tray"); err != nil {
		t.Fatal(err)
	}
	path, removed, err = Disable()
	if err != nil || !removed || path != EntryPath() {
		t.Fatalf("Disable() = %q, %v, %v; want %q, true, nil", path, removed, err, EntryPath())
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("entry still there after Disable: %v", err)
	}
	if st, err := Check(); err != nil || st.Enabled {
		t.Fatalf("Check() after Disable = %+v, %v", st, err)
	}
	if _, removed, err = Disable(); err != nil || removed {
		t.Fatalf("second Disable() = %v, %v; want false, nil", removed, err)
	}
}

func TestCheckEntrySwitches(t *testing.T) {
	useConfigHome(t)
	base := string(Entry("/usr/bin/ocm-tray"))
	tests := []struct {
		name    string
		text    string
		enabled bool
	}{
		{"ours", base, true},
		{"hidden", base + "Hidden=true\n", false},
		{"hidden false", base + "Hidden=false\n", true},
		{"gnome off", strings.Replace(base, "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false", 1), false},
		{"key in another group", base + "\n[Desktop Action x]\nHidden=true\n", true},
		{"minimal", "[Desktop Entry]\nType=Application\nName=x\nExec=/bin/x\n", true},
	}
	for _, tt := range tests {
		if err := os.MkdirAll(filepath.Dir(EntryPath()), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(EntryPath(), []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := Check()
		if err != nil {
			t.Fatal(err)
		}
		if st.Enabled != tt.enabled {
			t.Errorf("%s: Enabled = %v, want %v", tt.name, st.Enabled, tt.enabled)
		}
	}
}

func TestCheckUserUnit(t *testing.T) {
	home, _ := useConfigHome(t)
	unitDir := filepath.Join(home, "systemd", "user")
	wants := filepath.Join(unitDir, "default.target.wants")
	link := filepath.Join(wants, "ocm-tray.service")

	st, err := Check()
	if err != nil {
		t.Fatal(err)
	}
	if st.UnitEnabled || st.UnitPath != link {
		t.Fatalf("no unit: Check() = %+v, want UnitEnabled false, UnitPath %s", st, link)
	}
	if d := Describe(st); strings.Contains(d, "systemd") {
		t.Errorf("Describe without a unit mentions systemd: %q", d)
	}

	// What `systemctl --user enable ocm-tray` leaves: a symlink to the unit.
	unit := filepath.Join(unitDir, "ocm-tray.service")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, []byte("[Service]\nExecStart=/usr/bin/ocm-tray --headless\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(unit, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Enable("/usr/bin/ocm-tray"); err != nil {
		t.Fatal(err)
	}
	st, err = Check()
	if err != nil {
		t.Fatal(err)
	}
	if !st.UnitEnabled || st.UnitPath != link || !st.Enabled {
		t.Fatalf("Check() = %+v, want entry and unit enabled, UnitPath %s", st, link)
	}
	const note = "the systemd user unit ocm-tray.service is enabled; autostart and the unit are alternatives — disable one (systemctl --user disable ocm-tray)"
	if d := Describe(st); !strings.Contains(d, note) {
		t.Errorf("Describe = %q, want it to contain %q", d, note)
	}

	// Autostart off, unit on: the unit still starts the agent.
	if _, _, err := Disable(); err != nil {
		t.Fatal(err)
	}
	st, err = Check()
	if err != nil {
		t.Fatal(err)
	}
	d := Describe(st)
	if !strings.Contains(d, "autostart: off") || !strings.Contains(d, "still starts ocm-tray --headless") || !strings.Contains(d, "systemctl --user disable ocm-tray") {
		t.Errorf("Describe with only the unit = %q", d)
	}

	// A symlink left dangling (package removed) starts nothing.
	if err := os.Remove(unit); err != nil {
		t.Fatal(err)
	}
	if st, err = Check(); err != nil || st.UnitEnabled {
		t.Fatalf("dangling symlink: Check() = %+v, %v; want UnitEnabled false", st, err)
	}
}

func TestCheckGlobalUnit(t *testing.T) {
	_, systemWants := useConfigHome(t)
	target := filepath.Join(t.TempDir(), "ocm-tray.service")
	if err := os.WriteFile(target, []byte("[Service]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(systemWants, "ocm-tray.service")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Enable("/usr/bin/ocm-tray"); err != nil {
		t.Fatal(err)
	}
	st, err := Check()
	if err != nil {
		t.Fatal(err)
	}
	if !st.UnitEnabled || st.UnitPath != link {
		t.Fatalf("Check() = %+v, want the global unit %s", st, link)
	}
	if d := Describe(st); !strings.Contains(d, "sudo systemctl --global disable ocm-tray") {
		t.Errorf("Describe = %q, want the --global command", d)
	}
}

func TestDescribe(t *testing.T) {
	home, _ := useConfigHome(t)
	p := filepath.Join(home, "autostart", "ocm-tray.desktop")
	if got, want := Describe(Status{Enabled: true, Path: p}), "autostart: on ("+p+")"; got != want {
		t.Errorf("Describe(on) = %q, want %q", got, want)
	}
	if got, want := Describe(Status{Path: p}), "autostart: off (no enabled entry at "+p+")"; got != want {
		t.Errorf("Describe(off) = %q, want %q", got, want)
	}
}

// The packaged autostart file is Entry for the packaged binary, so the two
// cannot drift apart.
func TestPackagedAutostartMatchesEntry(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "packaging", "linux", "ocm-tray-autostart.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if want := Entry("/usr/bin/ocm-tray"); !bytes.Equal(data, want) {
		t.Fatalf("packaging/linux/ocm-tray-autostart.desktop differs from Entry(\"/usr/bin/ocm-tray\"):\n%s\nwant\n%s", data, want)
	}
}

// Paths with the spec's reserved characters survive Exec quoting (checked
// against a reader written from the spec) and pass desktop-file-validate.
func TestEntryQuoting(t *testing.T) {
	for _, exe := range []string{
		"/usr/bin/ocm-tray",
		"/home/a b/go/bin/ocm-tray",
		`/opt/we"ird/ocm-tray`,
		"/opt/$HOME/ocm-tray",
		`/opt/back\slash/ocm-tray`,
		"/opt/100%/ocm-tray",
		"/opt/%f/ocm-tray",
		"/opt/it's/ocm-tray",
		"/opt/`tick`/ocm-tray",
		"/opt/~me/a;b&c|d<e>f*g?h#i(j)/ocm-tray",
		"/opt/ünïcödé/ocm-tray",
	} {
		entry := string(Entry(exe))
		execVal, tryExec := keyValue(t, entry, "Exec"), keyValue(t, entry, "TryExec")
		if got := parseExec(t, execVal); got != exe {
			t.Errorf("Exec=%s reads back as %q, want %q", execVal, got, exe)
		}
		if got := unescapeString(tryExec); got != exe {
			t.Errorf("TryExec=%s reads back as %q, want %q", tryExec, got, exe)
		}
		f := filepath.Join(t.TempDir(), "ocm-tray.desktop")
		if err := os.WriteFile(f, []byte(entry), 0o644); err != nil {
			t.Fatal(err)
		}
		validate(t, f)
	}
}

func TestPackagedDesktopFilesValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "packaging", "linux", "*.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %v in packaging/linux, want the desktop entry and the autostart entry", files)
	}
	for _, f := range files {
		validate(t, f)
	}
}

// validate runs desktop-file-validate on path (testenv.Need: skipped
// without it, failed under CI=true).
func validate(t *testing.T, path string) {
	t.Helper()
	testenv.Need(t, "desktop-file-validate")
	out, err := exec.Command("desktop-file-validate", path).CombinedOutput()
	if err != nil {
		t.Errorf("desktop-file-validate %s: %v\n%s", path, err, out)
		return
	}
	// Warnings exit 0 too; hints are only logged.
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.Contains(line, "warning:"):
			t.Errorf("desktop-file-validate %s: %s", path, line)
		case strings.TrimSpace(line) != "":
			t.Logf("desktop-file-validate %s: %s", path, line)
		}
	}
}

func keyValue(t *testing.T, entry, key string) string {
	t.Helper()
	for _, line := range strings.Split(entry, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s= in\n%s", key, entry)
	return ""
}

// unescapeString undoes the spec's string escapes (\s \n \t \r \\).
func unescapeString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// parseExec reads a one-argument Exec value as a launcher would: string
// escapes first, then quoting, then %% to %.
func parseExec(t *testing.T, v string) string {
	t.Helper()
	v = unescapeString(v)
	var arg string
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		closed := false
		for i := 1; i < len(v); i++ {
			c := v[i]
			if c == '\\' && i+1 < len(v) && strings.IndexByte("\"`$\\", v[i+1]) >= 0 {
				i++
				b.WriteByte(v[i])
				continue
			}
			if c == '"' {
				if i != len(v)-1 {
					t.Fatalf("Exec %q: text after the closing quote", v)
				}
				closed = true
				break
			}
			b.WriteByte(c)
		}
		if !closed {
			t.Fatalf("Exec %q: unterminated quote", v)
		}
		arg = b.String()
	} else {
		if strings.ContainsAny(v, " \t\n\"'\\><~|&;$*?#()`") {
			t.Fatalf("Exec %q: reserved character outside quotes", v)
		}
		arg = v
	}
	if strings.Contains(strings.ReplaceAll(arg, "%%", ""), "%") {
		t.Fatalf("Exec %q: field code in the path", v)
	}
	return strings.ReplaceAll(arg, "%%", "%")
}

// What `go run` runs, or a binary built into a temporary folder, is gone
// after a reboot or a cache trim: Enable refuses it and writes nothing.
func TestEnableRefusesTemporaryBuild(t *testing.T) {
	useConfigHome(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cache := t.TempDir()
	t.Setenv("GOCACHE", cache)
	for _, exe := range []string{
		filepath.Join(tmp, "go-build2871/b001/exe/ocm-tray"),
		filepath.Join(tmp, "ocm-tray"),
		"/home/u/.cache/go-build/3f/3f9a-d/ocm-tray", // the default cache, where go run keeps tools
		filepath.Join(cache, "ab/ocm-tray"),
	} {
		_, err := Enable(exe)
		if !errors.Is(err, ErrTemporaryExe) {
			t.Errorf("Enable(%q) error = %v, want ErrTemporaryExe", exe, err)
		}
	}
	if _, err := os.Stat(filepath.Dir(EntryPath())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused Enable created %s (err %v)", filepath.Dir(EntryPath()), err)
	}
	// Beside the temporary folder, not in it; a name that only starts alike.
	for _, exe := range []string{"/home/u/go/bin/ocm-tray", tmp + "-other/ocm-tray", "/opt/go-builder/ocm-tray"} {
		if _, err := Enable(exe); err != nil {
			t.Errorf("Enable(%q) = %v, want it written", exe, err)
		}
	}
}
