package settings

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/adrg/xdg"
)

// setXDG points every XDG variable at a scratch directory and reloads
// adrg/xdg, which reads the environment only once otherwise.
func setXDG(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, k := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"} {
		t.Setenv(k, vars[k])
	}
	if h, ok := vars["HOME"]; ok {
		t.Setenv("HOME", h)
	}
	if d, ok := vars["TMPDIR"]; ok {
		t.Setenv("TMPDIR", d)
	}
	xdg.Reload()
	t.Cleanup(xdg.Reload) // after t.Setenv restores the environment
}

func TestResolvePaths(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG layout")
	}
	root := t.TempDir()
	run := filepath.Join(root, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	uid := strconv.Itoa(os.Getuid())
	for _, tc := range []struct {
		name     string
		vars     map[string]string
		override string
		want     Paths
	}{
		{
			name: "all set",
			vars: map[string]string{"HOME": root + "/home", "XDG_CONFIG_HOME": root + "/c", "XDG_DATA_HOME": root + "/d",
				"XDG_STATE_HOME": root + "/s", "XDG_RUNTIME_DIR": run},
			want: Paths{ConfigFile: root + "/c/ocm/settings.toml", ModelsDir: root + "/d/ocm/models",
				StateDir: root + "/s/ocm", RuntimeDir: run + "/ocm"},
		},
		{
			name: "defaults from HOME, no runtime dir",
			vars: map[string]string{"HOME": root + "/home", "TMPDIR": root + "/tmp"},
			want: Paths{ConfigFile: root + "/home/.config/ocm/settings.toml", ModelsDir: root + "/home/.local/share/ocm/models",
				StateDir: root + "/home/.local/state/ocm", RuntimeDir: root + "/tmp/ocm-" + uid},
		},
		{
			name: "runtime dir missing",
			vars: map[string]string{"HOME": root + "/home", "TMPDIR": root + "/tmp", "XDG_RUNTIME_DIR": root + "/gone"},
			want: Paths{ConfigFile: root + "/home/.config/ocm/settings.toml", ModelsDir: root + "/home/.local/share/ocm/models",
				StateDir: root + "/home/.local/state/ocm", RuntimeDir: root + "/tmp/ocm-" + uid},
		},
		{
			name: "relative XDG values are ignored (XDG spec)",
			vars: map[string]string{"HOME": root + "/home", "TMPDIR": root + "/tmp", "XDG_CONFIG_HOME": "rel", "XDG_RUNTIME_DIR": "run"},
			want: Paths{ConfigFile: root + "/home/.config/ocm/settings.toml", ModelsDir: root + "/home/.local/share/ocm/models",
				StateDir: root + "/home/.local/state/ocm", RuntimeDir: root + "/tmp/ocm-" + uid},
		},
		{
			name:     "config override kept as given",
			vars:     map[string]string{"HOME": root + "/home", "XDG_RUNTIME_DIR": run},
			override: "my.toml",
			want: Paths{ConfigFile: "my.toml", ModelsDir: root + "/home/.local/share/ocm/models",
				StateDir: root + "/home/.local/state/ocm", RuntimeDir: run + "/ocm"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setXDG(t, tc.vars)
			got, err := ResolvePaths(tc.override)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("ResolvePaths =\n  %+v\nwant\n  %+v", got, tc.want)
			}
			if got.ServerLog() != filepath.Join(tc.want.StateDir, "llama-server.log") {
				t.Fatalf("LogFile = %s", got.ServerLog())
			}
			// Resolving creates nothing.
			if _, err := os.Stat(filepath.Join(root, "home")); !os.IsNotExist(err) {
				t.Fatalf("ResolvePaths created directories: %v", err)
			}
		})
	}
}

func TestEnsureRuntimeDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix modes")
	}
	root := t.TempDir()

	t.Run("creates 0700 with parents", func(t *testing.T) {
		dir := filepath.Join(root, "a", "b", "ocm")
		if err := EnsureRuntimeDir(dir); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
			t.Fatalf("stat = %v, %v", fi, err)
		}
		if err := EnsureRuntimeDir(dir); err != nil { // idempotent
			t.Fatal(err)
		}
	})
	t.Run("check creates nothing", func(t *testing.T) {
		dir := filepath.Join(root, "never", "ocm")
		if err := CheckRuntimeDir(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("CheckRuntimeDir(missing) = %v, want fs.ErrNotExist", err)
		}
		if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("CheckRuntimeDir created %s", filepath.Dir(dir))
		}
	})
	t.Run("group readable refused", func(t *testing.T) {
		dir := filepath.Join(root, "open")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		chmod(t, dir, 0o750)
		err := EnsureRuntimeDir(dir)
		if err == nil || !strings.Contains(err.Error(), "mode 0750") || !strings.Contains(err.Error(), "chmod 700 "+dir) {
			t.Fatalf("err = %v", err)
		}
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o750 {
			t.Fatal("EnsureRuntimeDir changed the mode itself")
		}
	})
	t.Run("world writable refused", func(t *testing.T) {
		dir := filepath.Join(root, "world")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		chmod(t, dir, 0o777)
		if err := EnsureRuntimeDir(dir); err == nil || !strings.Contains(err.Error(), "other users") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("symlink refused", func(t *testing.T) {
		target := filepath.Join(root, "target")
		if err := os.Mkdir(target, 0o700); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(root, "link")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := EnsureRuntimeDir(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("file refused", func(t *testing.T) {
		f := writeFile(t, "ocm", "")
		if err := EnsureRuntimeDir(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("other owner refused", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("only root can create a directory owned by someone else")
		}
		dir := filepath.Join(root, "nobody")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		err := EnsureRuntimeDir(dir)
		if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") || !strings.Contains(err.Error(), "XDG_RUNTIME_DIR") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("parent is a file", func(t *testing.T) {
		f := writeFile(t, "file", "")
		if err := EnsureRuntimeDir(filepath.Join(f, "ocm")); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestEnsureStateDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "state", "ocm")
	if err := EnsureStateDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700) {
		t.Fatalf("stat = %v, %v", fi, err)
	}
	if err := EnsureStateDir(dir); err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, "ocm", "")
	if err := EnsureStateDir(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("err = %v", err)
	}
}

func TestResolvePathsNoHome(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG layout")
	}
	setXDG(t, map[string]string{"HOME": "relative-home"})
	if _, err := ResolvePaths(""); err == nil || !strings.Contains(err.Error(), "set HOME") {
		t.Fatalf("err = %v", err)
	}
}
