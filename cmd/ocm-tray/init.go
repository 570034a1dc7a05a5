package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/OpenCircuitDev/ocm-tray/settings"
)

// binaryName is llama.cpp's server program.
var binaryName = func() string {
	if runtime.GOOS == "windows" {
		return "llama-server.exe"
	}
	return "llama-server"
}()

// installDirs are where llama-server is commonly found besides PATH: a
// user-local install, the system-wide default of cmake --install, an
// unpacked release archive in /opt, and a source build in the home folder.
// A leading "~/" is the home directory. A var so tests can point it away
// from the host.
var installDirs = []string{"~/.local/bin", "/usr/local/bin", "/opt/llama.cpp/bin", "~/llama.cpp/build/bin"}

func cmdInit(c *command, o opts, stdout, stderr io.Writer) int {
	if len(o.args) > 0 {
		return c.fail(stderr, fmt.Sprintf("unexpected argument %q (the file goes after --config)", o.args[0]))
	}
	paths, err := settings.ResolvePaths(o.str("config"))
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	file := paths.ConfigFile
	if _, err := os.Lstat(file); err == nil {
		return refuseInit(file, stderr)
	}

	bin := findBinary()
	models := findModels(paths.ModelsDir)
	fill := settings.Filled{Backend: "llamacpp", LlamaServerBinary: bin.chosen(), ModelID: models.chosen()}
	created, err := settings.CreateFilledTemplate(file, fill)
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	if !created { // it appeared meanwhile
		return refuseInit(file, stderr)
	}

	fmt.Fprintf(stdout, "wrote %s\n", file)
	if _, err := os.Stat(paths.ModelsDir); errors.Is(err, fs.ErrNotExist) {
		// The folder the next step asks for; the agent also watches it.
		if err := os.MkdirAll(paths.ModelsDir, 0o755); err == nil {
			fmt.Fprintf(stdout, "created the models folder %s\n", paths.ModelsDir)
		}
	}
	fmt.Fprintln(stdout, `  backend = "llamacpp"`)
	var todo []string
	if fill.LlamaServerBinary != "" {
		fmt.Fprintf(stdout, "  llama_server_binary = %q   (%s)\n", fill.LlamaServerBinary, bin.how)
		for _, other := range bin.others {
			fmt.Fprintf(stdout, "    also found: %s\n", other)
		}
	} else {
		fmt.Fprintf(stdout, "  llama_server_binary: not set; %s\n", bin.how)
		todo = append(todo, "install llama.cpp's llama-server (a release from https://github.com/ggml-org/llama.cpp/releases, or build it) and set llama_server_binary to its path")
	}
	if fill.ModelID != "" {
		fmt.Fprintf(stdout, "  model_id = %q   (the only model in %s)\n", fill.ModelID, paths.ModelsDir)
	} else {
		fmt.Fprintf(stdout, "  model_id: not set; %s\n", models.how)
		if len(models.ids) == 0 {
			todo = append(todo, fmt.Sprintf("put a .gguf model in %s and set model_id to its name without .gguf", paths.ModelsDir))
		} else {
			todo = append(todo, "set model_id to one of the models above")
		}
	}

	// What the agent would do with the file as written.
	lines, _ := settings.Check(file, true, paths.ModelsDir)
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if len(todo) > 0 {
		fmt.Fprintln(stdout, "left to do:")
		for _, t := range todo {
			fmt.Fprintf(stdout, "  - %s\n", t)
		}
		fmt.Fprintf(stdout, "  then run `ocm-tray check%s` until it says \"gate: spawn\"\n", configArg(o))
	}
	if configArg(o) != "" {
		fmt.Fprintf(stdout, "start the agent with `ocm-tray%s`\n", configArg(o))
	} else {
		fmt.Fprintln(stdout, "start the agent with `ocm-tray` (or `ocm-tray autostart on` to start it at every login)")
	}
	return exitOK
}

func refuseInit(file string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "ocm-tray: %s already exists; init never overwrites it. Edit it, or check it with `ocm-tray check`; to start afresh, move it away first (mv %s %s.old)\n", file, file, file)
	return exitError
}

// configArg repeats --config for the commands init suggests.
func configArg(o opts) string {
	if o.str("config") == "" {
		return ""
	}
	return " --config " + o.str("config")
}

// found is what a search came up with: one choice, several, or none, and
// how to say so.
type found struct {
	ids    []string // the choices
	how    string   // where it was found, or where it was looked for
	others []string // further choices shown, not chosen
}

// chosen is the only choice, or "".
func (f found) chosen() string {
	if len(f.ids) == 1 {
		return f.ids[0]
	}
	return ""
}

// findBinary looks for llama-server on PATH, then in installDirs. PATH wins:
// it is the one the user runs in a shell. Elsewhere exactly one must be
// found; copies of one file (a symlink into /opt) count once.
func findBinary() found {
	var hits []string
	var infos []fs.FileInfo
	add := func(p string) {
		fi, err := os.Stat(p)
		if err != nil || !usablePath(p) || !isExecutable(fi) {
			return
		}
		for _, seen := range infos {
			if os.SameFile(seen, fi) {
				return
			}
		}
		hits, infos = append(hits, p), append(infos, fi)
	}
	onPath := ""
	if p, err := exec.LookPath(binaryName); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			onPath = abs
			add(abs)
		}
	}
	var looked []string
	for _, d := range installDirs {
		dir := d
		if rest, ok := strings.CutPrefix(d, "~/"); ok {
			home, err := os.UserHomeDir()
			if err != nil || home == "" {
				continue
			}
			dir = filepath.Join(home, rest)
		}
		looked = append(looked, d)
		add(filepath.Join(dir, binaryName))
	}
	where := "looked on PATH and in " + strings.Join(looked, ", ")
	switch {
	case onPath != "" && len(hits) > 0 && hits[0] == onPath:
		return found{ids: hits[:1], how: "found on PATH", others: hits[1:]}
	case len(hits) == 1:
		return found{ids: hits, how: "found in " + filepath.Dir(hits[0])}
	case len(hits) == 0:
		return found{how: "no " + binaryName + " found (" + where + ")"}
	default:
		return found{ids: hits, how: "found several, set one: " + strings.Join(hits, ", ")}
	}
}

func isExecutable(fi fs.FileInfo) bool {
	if !fi.Mode().IsRegular() {
		return false
	}
	return runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0
}

// usablePath reports whether a path or name can go into the settings file
// as it is: valid UTF-8 (TOML is), no control characters (the settings
// refuse them).
func usablePath(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// splitPart matches the parts of a split model, NAME-00002-of-00003.gguf;
// the first part names the model.
var splitPart = regexp.MustCompile(`-(\d{5})-of-(\d{5})\.gguf$`)

// findModels lists the models in dir: .gguf files, a split model once (by
// its first part), multimodal projectors (mmproj files, which go with a
// model and are not one) left out.
func findModels(dir string) found {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return found{how: "no .gguf model in " + dir}
	}
	if err != nil {
		return found{how: fmt.Sprintf("cannot read %s: %v", dir, err)}
	}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		// The gate appends a lower-case ".gguf" to model_id.
		if !strings.HasSuffix(name, ".gguf") || strings.HasPrefix(name, ".") ||
			strings.Contains(strings.ToLower(name), "mmproj") || !usablePath(name) {
			continue
		}
		if m := splitPart.FindStringSubmatch(name); m != nil && strings.TrimLeft(m[1], "0") != "1" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		ids = append(ids, name[:len(name)-len(".gguf")])
	}
	slices.Sort(ids)
	switch len(ids) {
	case 0:
		return found{how: "no .gguf model in " + dir}
	case 1:
		return found{ids: ids}
	default:
		shown := ids
		more := ""
		if len(shown) > 10 {
			shown, more = shown[:10], fmt.Sprintf(" and %d more", len(ids)-10)
		}
		return found{ids: ids, how: fmt.Sprintf("%d models in %s: %s%s", len(ids), dir, strings.Join(shown, ", "), more)}
	}
}
