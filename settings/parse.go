package settings

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/oserr"
	"github.com/OpenCircuitDev/ocm-tray/internal/regular"
	"github.com/OpenCircuitDev/ocm-tray/status"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
)

// MaxFileSize bounds how much of a settings file is read. A real file is a
// few hundred bytes; a multi-megabyte "settings file" is a wrong --config.
const MaxFileSize = 1 << 20

// Load reads and validates the settings file at path.
//
// A missing file at the default path (explicit = false) means defaults with
// no problem: a fresh install has no file. An explicit --config that is
// missing, and any path that is a directory, not a regular file, unreadable
// or too large, is an error Problem. Load never creates or writes the file,
// and never blocks: a named pipe at the path is refused, not waited on.
// The returned Settings are Defaults() when the file could not be read; when
// HasErrors(problems), the caller must not use them (see Parse).
func Load(path string, explicit bool) (Settings, []Problem) {
	s := Defaults()
	s.File = path
	data, p := readSettings(path, explicit)
	if p != nil {
		return s, []Problem{*p}
	}
	if data == nil {
		return s, nil
	}
	return Parse(path, data)
}

// readSettings reads the file at path, at most MaxFileSize bytes. It
// returns nil data and no problem for a missing file at the default path.
//
// The path is looked at before it is opened, so that a device is never
// opened (opening some has side effects, such as rewinding a tape), and the
// opened file is looked at again, since the path may have been replaced in
// between: only a regular file is read.
func readSettings(path string, explicit bool) ([]byte, *Problem) {
	fail := func(msg, fix string) ([]byte, *Problem) {
		return nil, &Problem{File: path, Msg: msg, Fix: fix}
	}
	readFail := func(err error) ([]byte, *Problem) {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return nil, nil // removed since it was looked at: as if missing
		}
		return fail("cannot read the settings file: "+errText(err), "make it readable: chmod u+r "+path)
	}
	// What is at the path is not a settings file: with --config, the
	// option names the wrong thing; at the default path, the thing is in
	// the way of the settings file.
	notSettings := func(msg, configFix string) ([]byte, *Problem) {
		if explicit {
			return fail(msg, configFix)
		}
		return fail(msg, "move it away (mv "+path+" "+path+".old) and write the settings there as a plain file")
	}
	notRegular := func(m fs.FileMode) ([]byte, *Problem) {
		if m.IsDir() {
			return notSettings("is a directory, not a settings file", "point --config at the settings.toml file inside it")
		}
		return notSettings("is "+regular.Kind(m)+", not a regular file", "point --config at a settings.toml file")
	}
	tooLarge := func(size string) ([]byte, *Problem) {
		return notSettings("is "+size+"too large for a settings file", "check that --config names the settings.toml file")
	}

	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return fail("settings file not found", "check the --config path, or leave --config out to use "+defaultConfigHint)
	case err != nil:
		return fail("cannot read the settings file: "+errText(err), "check the path and its permissions")
	case !fi.Mode().IsRegular():
		return notRegular(fi.Mode())
	case fi.Size() > MaxFileSize:
		return tooLarge(fmt.Sprintf("%d bytes, ", fi.Size()))
	}
	f, fi, err := regular.Open(path)
	var nr *regular.NotRegularError
	if errors.As(err, &nr) {
		return notRegular(nr.Mode)
	}
	if err != nil {
		return readFail(err)
	}
	defer f.Close()
	// Read one byte past the limit: the file may have grown since Stat.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return readFail(err)
	}
	if len(data) > MaxFileSize {
		return tooLarge("")
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

const defaultConfigHint = "$XDG_CONFIG_HOME/ocm/settings.toml"

// errText is an error's message without the path os already put in front,
// since a Problem names the file itself.
func errText(err error) string { return oserr.Cause(err).Error() }

// Parse validates a settings document. file names it in the problems.
//
// Reporting follows docs/settings.md: a syntax or type error stops there and is the
// only error reported (with its line and key), because what follows it
// cannot be trusted; otherwise every semantic error is reported, each with
// its key, its line and a fix, up to MaxProblems. Unknown keys are
// tolerated, for files written by a newer version, and named together in
// one warning; settings keys in the wrong table get a warning each. A
// document with more than MaxPieces pieces is refused before it is decoded.
//
// The Settings returned are Defaults() overlaid with the file's values; when
// HasErrors(problems) they are incomplete and must not be used.
func Parse(file string, data []byte) (Settings, []Problem) {
	s := Defaults()
	s.File = file
	// Editors on Windows write a byte-order mark that TOML does not allow.
	// Dropping it keeps offsets and line numbers of the rest intact.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))

	if line := overPieces(data); line > 0 {
		return s, []Problem{{File: file, Line: line, Key: keyOnLine(data, line),
			Msg: fmt.Sprintf("the file has more than %d keys, values and tables, far more than a settings file", MaxPieces),
			Fix: "check that this is the settings file (that --config, if given, names settings.toml); remove what does not belong in it"}}
	}
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return s, []Problem{syntaxProblem(file, data, err)}
	}
	c := &checker{file: file, lines: indexKeys(data)}
	c.decode(doc, &s)
	if len(c.typeErrs) > 0 {
		sortProblems(c.typeErrs)
		return s, limitProblems(append(c.typeErrs[:1], c.warnings()...))
	}
	c.validate(&s)
	probs := append(c.errs, c.warnings()...)
	sortProblems(probs)
	return s, limitProblems(probs)
}

// sortProblems orders problems by line, unknown lines last, keeping the
// order of checks among equals.
func sortProblems(ps []Problem) {
	line := func(p Problem) int {
		if p.Line == 0 {
			return math.MaxInt
		}
		return p.Line
	}
	sort.SliceStable(ps, func(i, j int) bool { return line(ps[i]) < line(ps[j]) })
}

// syntaxProblem turns a go-toml decode error into a Problem. go-toml gives a
// line for every decode error but a key only for some, so the key is
// otherwise read from the text of that line.
func syntaxProblem(file string, data []byte, err error) Problem {
	p := Problem{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: "), Fix: "correct the TOML syntax (see https://toml.io)"}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		p.Line, _ = de.Position()
		if k := de.Key(); len(k) > 0 {
			p.Key = formatKey(k)
			// go-toml's message may name the key too: cut it there as
			// Problem.String cuts the key.
			for _, part := range k {
				if len(part) > MaxQuoted {
					p.Msg = strings.ReplaceAll(p.Msg, part, clip(part, MaxQuoted))
				}
			}
		} else {
			p.Key = keyOnLine(data, p.Line)
		}
	}
	switch {
	case strings.Contains(p.Msg, "already defined"), strings.Contains(p.Msg, "already exists"):
		p.Fix = "keep only one of the duplicates"
	case strings.Contains(p.Msg, "too large"), strings.Contains(p.Msg, "out of range"):
		p.Fix = "use a smaller number"
	case strings.Contains(p.Msg, "expected keyword"), strings.Contains(p.Msg, "at start of value"):
		// go-toml reads an unquoted word as a failed true/false/inf/nan.
		p.Fix = `write text in double quotes ("..."), numbers without them, durations as "10s"`
	}
	if p.Line == 0 && p.Key == "" {
		// Never expected from go-toml; keep the problem locatable anyway.
		p.Line = 1
	}
	return p
}

// checker collects problems while decoding and validating one document.
type checker struct {
	file     string
	lines    keyIndex
	typeErrs []Problem // wrong TOML types: only the first is reported
	errs     []Problem // semantic errors: all are reported
	unknown  []string  // unknown key paths
	nonLoop  *Problem  // non-loopback host warning
	extra    []Problem // other warnings
	present  map[string]bool
}

func (c *checker) problem(key, msg, fix string) Problem {
	return Problem{File: c.file, Line: c.lines.line(key), Key: key, Msg: msg, Fix: fix}
}

func (c *checker) typeErr(key, msg, fix string) {
	c.typeErrs = append(c.typeErrs, c.problem(key, msg, fix))
}

func (c *checker) errorf(key, fix, format string, args ...any) {
	c.errs = append(c.errs, c.problem(key, fmt.Sprintf(format, args...), fix))
}

func (c *checker) warnf(key, fix, format string, args ...any) {
	p := c.problem(key, fmt.Sprintf(format, args...), fix)
	p.Warning = true
	c.extra = append(c.extra, p)
}

// warnings returns the warnings in a stable order: unknown keys first.
func (c *checker) warnings() []Problem {
	var ws []Problem
	if len(c.unknown) > 0 {
		sort.SliceStable(c.unknown, func(i, j int) bool {
			li, lj := c.lines.line(c.unknown[i]), c.lines.line(c.unknown[j])
			if li != lj {
				return li < lj
			}
			return c.unknown[i] < c.unknown[j]
		})
		msg := "unknown key, ignored"
		if len(c.unknown) > 1 {
			msg = "unknown keys, ignored"
		}
		ws = append(ws, Problem{
			File: c.file, Line: c.lines.line(c.unknown[0]), Key: keyList(c.unknown),
			Msg: msg, Fix: "check the spelling; keys a newer ocm-tray knows are ignored by this one", Warning: true,
		})
	}
	if c.nonLoop != nil {
		ws = append(ws, *c.nonLoop)
	}
	return append(ws, c.extra...)
}

// keyList names keys for one warning: as many as fit in MaxQuoted bytes,
// then how many more, so the warning stays one readable line however many
// keys there are and however long.
func keyList(keys []string) string {
	const room = len(" and 1000000 more")
	var b strings.Builder
	for i, k := range keys {
		sep := ""
		if i > 0 {
			sep = ", "
		}
		if i > 0 && b.Len()+len(sep)+len(k) > MaxQuoted-room {
			fmt.Fprintf(&b, " and %d more", len(keys)-i)
			break
		}
		b.WriteString(sep)
		b.WriteString(clip(k, MaxQuoted-room))
	}
	return b.String()
}

// examples are the values shown in fixes, one per key: the defaults where
// they are meaningful.
var examples = map[string]string{
	"backend":                           `"llamacpp"`,
	"model_id":                          `"qwen2.5-0.5b-instruct-q4_k_m"`,
	"inference_base_url":                `"` + DefaultBaseURL + `"`,
	"llama_server_binary":               `"/usr/local/bin/llama-server"`,
	"models_dir":                        `"~/models"`,
	"ctx_len":                           strconv.Itoa(DefaultCtxLen),
	"llama_server_args":                 `["--threads", "4"]`,
	"supervisor.max_restarts":           "3",
	"supervisor.initial_backoff":        `"500ms"`,
	"supervisor.max_backoff":            `"10s"`,
	"supervisor.stability_window":       `"60s"`,
	"supervisor.health_check_interval":  `"5s"`,
	"supervisor.health_check_timeout":   `"15s"`,
	"supervisor.startup_timeout":        `"10m"`,
	"supervisor.stop_timeout":           `"10s"`,
	"notifications.level":               `"all"`,
	"models.mode":                       `"single"`,
	"models.max_loaded":                 "1",
	"models.sleep_after":                `"10m"`,
	"power.keep_awake_while_generating": "true",
}

// writeFix is "write KEY = EXAMPLE", with KEY as it is written inside its
// table (max_backoff under [supervisor], not supervisor.max_backoff).
func writeFix(key string) string {
	short := key[strings.LastIndexByte(key, '.')+1:]
	return "write " + short + " = " + examples[key]
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a decimal number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date or time"
	}
}

// decode copies the document's known keys into s, checking their TOML
// types, and records unknown keys.
func (c *checker) decode(doc map[string]any, s *Settings) {
	c.present = map[string]bool{}
	for k, v := range doc {
		c.present[k] = true
		switch k {
		case "backend":
			if str, ok := c.str(k, v); ok {
				s.Backend = Backend(str)
			}
		case "model_id":
			c.strInto(k, v, &s.ModelID)
		case "inference_base_url":
			c.strInto(k, v, &s.InferenceBaseURL)
		case "llama_server_binary":
			c.strInto(k, v, &s.LlamaServerBinary)
		case "models_dir":
			c.strInto(k, v, &s.ModelsDir)
		case "ctx_len":
			c.intInto(k, v, &s.CtxLen)
		case "llama_server_args":
			s.LlamaServerArgs = c.strings(k, v)
		case "supervisor":
			if t, ok := c.table(k, v); ok {
				c.decodeSupervisor(t, &s.Supervisor)
			}
		case "notifications":
			c.oneKeyTable(k, v, "level", func(key string, vv any) { c.strInto(key, vv, &s.Notifications.Level) })
		case "models":
			if t, ok := c.table(k, v); ok {
				c.decodeModels(t, &s.Models)
			}
		case "power":
			c.oneKeyTable(k, v, "keep_awake_while_generating", func(key string, vv any) { c.boolInto(key, vv, &s.Power.KeepAwakeWhileGenerating) })
		default:
			c.unknownKey("", k, v)
		}
	}
}

func (c *checker) boolInto(key string, v any, dst *bool) {
	b, ok := v.(bool)
	if !ok {
		c.typeErr(key, "must be true or false, not "+typeName(v), writeFix(key))
		return
	}
	*dst = b
}

// keyHomes maps the name of every settings key to the table it belongs in
// ("" for the top level), for telling a key written in the wrong place
// from one this version does not know.
var keyHomes = func() map[string]string {
	homes := map[string]string{}
	for key := range examples {
		table, name, ok := strings.Cut(key, ".")
		if !ok {
			table, name = "", key
		}
		homes[name] = table
	}
	return homes
}()

// unknownKey records a key that is not a settings key where it is written:
// under table ("" for the top level), name. A settings key in the wrong
// table gets a warning of its own saying where it belongs; so do settings
// keys inside an unknown top-level table. Anything else is unknown: maybe
// a key a newer version knows, named in the one warning about those.
func (c *checker) unknownKey(table, name string, v any) {
	path := []string{name}
	if table != "" {
		path = []string{table, name}
	}
	key := formatKey(path)
	if home, ok := keyHomes[name]; ok && home != table {
		c.misplaced(key, name, table, home)
		return
	}
	c.unknown = append(c.unknown, key)
	if t, ok := v.(map[string]any); ok && table == "" {
		for kk := range t {
			if home, ok := keyHomes[kk]; ok {
				c.misplaced(formatKey([]string{name, kk}), kk, name, home)
			}
		}
	}
}

// misplaced warns that the settings key name, written under table ("" =
// the top level), belongs under home: its value is not used where it is.
// The usual cause is a key added at the end of the file, which puts it
// under the last [table] line.
func (c *checker) misplaced(key, name, table, home string) {
	where := func(t string) string { return "[" + formatKey([]string{t}) + "]" }
	var msg, fix string
	switch {
	case home == "":
		msg = fmt.Sprintf("%s belongs at the top level, not under %s; it is ignored there", name, where(table))
		fix = fmt.Sprintf("move it above the first [table] line: every key below a %s line belongs to %s", where(table), where(table))
	case table == "":
		msg = fmt.Sprintf("%s belongs under %s; it is ignored at the top level", name, where(home))
		fix = fmt.Sprintf("move it below the %s line, or write it as %s.%s", where(home), home, name)
	default:
		msg = fmt.Sprintf("%s belongs under %s, not %s; it is ignored there", name, where(home), where(table))
		fix = fmt.Sprintf("move it below the %s line", where(home))
	}
	c.warnf(key, fix, "%s", msg)
}

func (c *checker) decodeSupervisor(t map[string]any, p *SupervisorSettings) {
	durations := map[string]*Duration{
		"initial_backoff":       &p.InitialBackoff,
		"max_backoff":           &p.MaxBackoff,
		"stability_window":      &p.StabilityWindow,
		"health_check_interval": &p.HealthCheckInterval,
		"health_check_timeout":  &p.HealthCheckTimeout,
		"startup_timeout":       &p.StartupTimeout,
		"stop_timeout":          &p.StopTimeout,
	}
	for k, v := range t {
		key := "supervisor." + k
		c.present[key] = true
		if k == "max_restarts" {
			c.intInto(key, v, &p.MaxRestarts)
			continue
		}
		d, ok := durations[k]
		if !ok {
			c.unknownKey("supervisor", k, v)
			continue
		}
		c.duration(key, v, d)
	}
}

func (c *checker) str(key string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		c.typeErr(key, "must be a string, not "+typeName(v), writeFix(key))
	}
	return s, ok
}

func (c *checker) strInto(key string, v any, dst *string) {
	if s, ok := c.str(key, v); ok {
		*dst = s
	}
}

// intInto stores an integer after checking its range on the int64 go-toml
// decoded, so that the message shows the number the user wrote even where
// int is 32 bits. Out of range, the default stays.
func (c *checker) intInto(key string, v any, dst *int) {
	switch n := v.(type) {
	case int64:
		r := intRanges[key]
		if n < r.lo || n > r.hi {
			c.errorf(key, r.fix, "%d is out of range", n)
			return
		}
		*dst = int(n)
	case float64:
		c.typeErr(key, "must be a whole number, not "+typeName(v), writeFix(key))
	default:
		c.typeErr(key, "must be an integer, not "+typeName(v), writeFix(key))
	}
}

// intRanges are the integer limits of docs/settings.md.
var intRanges = map[string]struct {
	lo, hi int64
	fix    string
}{
	"ctx_len":                 {0, MaxCtxLen, fmt.Sprintf("use 0 (the model's own) up to %d, e.g. ctx_len = %d", MaxCtxLen, DefaultCtxLen)},
	"supervisor.max_restarts": {0, MaxMaxRestarts, fmt.Sprintf("use 0 (never restart) up to %d, e.g. max_restarts = 3", MaxMaxRestarts)},
	"models.max_loaded":       {0, MaxMaxLoaded, fmt.Sprintf("use 0 (no limit) up to %d, e.g. max_loaded = 1", MaxMaxLoaded)},
}

func (c *checker) strings(key string, v any) []string {
	arr, ok := v.([]any)
	if !ok {
		c.typeErr(key, "must be an array of strings, not "+typeName(v), writeFix(key))
		return nil
	}
	var out []string
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			p := c.problem(key, fmt.Sprintf("element %d must be a string, not %s", i+1, typeName(e)), `quote every argument: `+examples[key])
			if l := c.lines.elemLine(key, i); l > 0 {
				p.Line = l
			}
			// Only the first type error is reported: stop at it.
			c.typeErrs = append(c.typeErrs, p)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// oneKeyTable decodes a table that holds one known key (decode stores it);
// every other key in it is unknown.
func (c *checker) oneKeyTable(table string, v any, known string, decode func(key string, v any)) {
	t, ok := c.table(table, v)
	if !ok {
		return
	}
	for kk, vv := range t {
		key := table + "." + kk
		c.present[key] = true
		if kk == known {
			decode(key, vv)
		} else {
			c.unknownKey(table, kk, vv)
		}
	}
}

func (c *checker) table(key string, v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case []any:
		c.typeErr(key, "must be a table, not an array of tables", "write ["+key+"] (single brackets)")
	default:
		c.typeErr(key, "must be a table, not "+typeName(v), "write a ["+key+"] section instead")
	}
	return nil, false
}

// duration decodes a duration string. A bare number is refused: go-toml
// would read 500 as 500 ns, and "500" seconds or milliseconds is a guess we
// will not make for the user. Range checks come later, in validate.
func (c *checker) duration(key string, v any, dst *Duration) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(x)
		if err != nil {
			c.errorf(key, `use a number with a unit (ms, s, m, h), e.g. `+writeFix(key)[len("write "):], "%s is not a duration", quote(x))
			// Keep the default so the later range checks do not pile on.
			return
		}
		*dst = Duration(d)
	case int64, float64:
		c.typeErr(key, fmt.Sprintf("%v is a number without a unit", x), `write it as a string with a unit, e.g. `+writeFix(key)[len("write "):])
	default:
		c.typeErr(key, "must be a duration string, not "+typeName(v), writeFix(key))
	}
}

// validate runs the semantic rules of docs/settings.md on decoded settings.
func (c *checker) validate(s *Settings) {
	if !s.Backend.Valid() {
		c.errorf("backend", `use one of "auto", "ollama", "llamacpp"`, "%s is not a backend", quote(string(s.Backend)))
	}
	if s.Backend == BackendLlamaCpp {
		if c.present["model_id"] {
			if msg := checkModelID(s.ModelID); msg != "" {
				c.errorf("model_id", "write the file's name in models_dir without .gguf, e.g. model_id = "+examples["model_id"], "%s", msg)
			} else if strings.HasSuffix(strings.ToLower(s.ModelID), ".gguf") {
				c.warnf("model_id", "write model_id = "+quote(s.ModelID[:len(s.ModelID)-len(".gguf")]),
					"ends in .gguf, so the file looked for is %s.gguf", clip(s.ModelID, MaxQuoted))
			}
		}
		if host, _, err := Endpoint(*s); err != nil {
			c.errorf("inference_base_url", "write it as http://HOST:PORT, e.g. inference_base_url = "+examples["inference_base_url"], "%s", err.Error())
		} else if !IsLoopback(host) {
			p := c.problem("inference_base_url", nonLoopbackWarning(host), "use 127.0.0.1 unless other machines should reach it")
			p.Warning = true
			c.nonLoop = &p
		}
	}
	if b := s.LlamaServerBinary; b != "" {
		switch {
		case len(b) > maxPath:
			c.errorf("llama_server_binary", "write the path of the llama-server program", "%s is longer than any path can be", quote(b))
		case hasControl(b):
			c.errorf("llama_server_binary", "retype the path without it", "%s contains a control character", quote(b))
		case reorders(b) != "":
			c.errorf("llama_server_binary", "retype the path without it", "%s contains %s", quote(b), reorders(b))
		case strings.HasPrefix(b, "~/") || filepath.IsAbs(b) || isBareName(b):
		default:
			c.errorf("llama_server_binary", `use an absolute path ("/usr/local/bin/llama-server"), one starting with ~/, or a bare name found on PATH ("llama-server")`,
				"%s is a relative path, which would depend on the directory ocm-tray starts in", quote(b))
		}
	}
	if d := s.ModelsDir; d != "" {
		switch {
		case len(d) > maxPath:
			c.errorf("models_dir", `write the path of the folder the models are in, e.g. models_dir = "~/models"`, "%s is longer than any path can be", quote(d))
		case hasControl(d):
			c.errorf("models_dir", "retype the path without it", "%s contains a control character", quote(d))
		case reorders(d) != "":
			c.errorf("models_dir", "retype the path without it", "%s contains %s", quote(d), reorders(d))
		case strings.HasPrefix(d, "~/") || filepath.IsAbs(d):
		default:
			c.errorf("models_dir", `use an absolute path or one starting with ~/, e.g. models_dir = "~/models"`,
				"%s is a relative path, which would depend on the directory ocm-tray starts in", quote(d))
		}
	}
	for i, a := range s.LlamaServerArgs {
		key := "llama_server_args"
		if strings.ContainsRune(a, 0) {
			c.errorArg(key, i, "remove the NUL character", "argument %s contains a NUL character, which no program argument can carry", quote(a))
		} else if f, ok := managedFlag(a); ok {
			c.errorArg(key, i, managedFix(f), "%s is set by ocm-tray itself", quote(a))
		}
	}
	c.validateSupervisor(s.Supervisor)
	c.validateModels(s.Models)
	if !slices.Contains(status.NotifyLevels, status.NotifyLevel(s.Notifications.Level)) {
		c.errorf("notifications.level", `use "all", "failures" or "off"`, "%s is not a notification level", quote(s.Notifications.Level))
	}
}

func (c *checker) errorArg(key string, i int, fix, format string, args ...any) {
	p := c.problem(key, fmt.Sprintf(format, args...), fix)
	if l := c.lines.elemLine(key, i); l > 0 {
		p.Line = l
	}
	c.errs = append(c.errs, p)
}

func (c *checker) validateSupervisor(p SupervisorSettings) {
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"supervisor.initial_backoff", p.InitialBackoff},
		{"supervisor.max_backoff", p.MaxBackoff},
		{"supervisor.stability_window", p.StabilityWindow},
		{"supervisor.health_check_interval", p.HealthCheckInterval},
		{"supervisor.health_check_timeout", p.HealthCheckTimeout},
		{"supervisor.startup_timeout", p.StartupTimeout},
		{"supervisor.stop_timeout", p.StopTimeout},
	} {
		switch {
		case d.v <= 0:
			c.errorf(d.key, "use a positive duration, e.g. "+writeFix(d.key)[len("write "):], "%s is not greater than 0", d.v)
		case time.Duration(d.v) > MaxDuration:
			c.errorf(d.key, "use at most \"24h\"", "%s is longer than 24h", d.v)
		}
	}
	c.ordered("supervisor.initial_backoff", p.InitialBackoff, "supervisor.max_backoff", p.MaxBackoff)
	c.ordered("supervisor.health_check_interval", p.HealthCheckInterval, "supervisor.health_check_timeout", p.HealthCheckTimeout)
}

// ordered checks lo <= hi, reporting on the key the file sets (the first one
// when it sets both): a key left at its default is not what the user must
// change.
func (c *checker) ordered(loKey string, lo Duration, hiKey string, hi Duration) {
	if lo <= 0 || hi <= 0 || lo <= hi {
		return // a non-positive one is already reported
	}
	key := loKey
	if !c.present[loKey] {
		key = hiKey
	}
	short := func(k string) string { return k[strings.LastIndexByte(k, '.')+1:] }
	c.errorf(key, fmt.Sprintf("make %s at most %s", short(loKey), short(hiKey)),
		"%s (%s) is greater than %s (%s)", short(loKey), lo, short(hiKey), hi)
}

// maxPath is the longest path the system opens (Linux's PATH_MAX); a
// longer one is a mistake, and would make every message quoting it long.
const maxPath = 4096

// checkModelID returns why id is not a plain file name, or "". model_id is
// joined to models_dir: a path in it could point the gate, and llama-server,
// anywhere on disk. It is also shown as it is (in the menu, the status, the
// notifications), so a name that displays as something it is not (a
// right-to-left override turning "evil\u202efoog.gguf" into
// "evilfoog.gguf" read backwards) is refused as well.
func checkModelID(id string) string {
	switch {
	case id == "":
		return "is empty"
	case !utf8.ValidString(id):
		return quote(id) + " is not valid UTF-8"
	case hasControl(id):
		return quote(id) + " contains a control character"
	case strings.ContainsAny(id, `/\`):
		return quote(id) + " is a path, not a plain file name"
	case id == "." || id == ".." || strings.Contains(id, ".."):
		return quote(id) + ` contains "..", not a plain file name`
	case len(id) > maxModelID:
		return fmt.Sprintf("%s is %d bytes long: with .gguf after it, no file name can be longer than %d bytes", quote(id), len(id), maxFileName)
	}
	if r, ok := invisible(id); ok {
		return fmt.Sprintf("%s contains U+%04X, an invisible character that changes how the name is shown", quote(id), r)
	}
	return ""
}

// maxFileName is the longest file name Linux, macOS and Windows file
// systems take, in bytes; model_id leaves room for ".gguf".
const (
	maxFileName = 255
	maxModelID  = maxFileName - len(".gguf")
)

// invisible returns the first format character in s (Unicode category Cf:
// bidirectional overrides and isolates, zero-width spaces and joiners, the
// byte-order mark, soft hyphens): characters that are not seen but change
// what is shown.
func invisible(s string) (rune, bool) {
	for _, r := range s {
		if unicode.Is(unicode.Cf, r) {
			return r, true
		}
	}
	return 0, false
}

// reorders names the first character in s that reorders the text around
// it (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), or "":
// a path holding one is shown as a different path. Other format characters
// are let through in paths: a folder named with an emoji sequence holds
// zero-width joiners.
func reorders(s string) string {
	for _, r := range s {
		switch {
		case r == 0x061C, r == 0x200E, r == 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return fmt.Sprintf("U+%04X, an invisible character that changes the order in which the path is shown", r)
		}
	}
	return ""
}

// hasControl reports a NUL or other control character (or invalid UTF-8):
// such a path is a typo or an attack, never a file the user means.
func hasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// isBareName reports a program name without any directory part, to be
// looked up on PATH.
func isBareName(s string) bool {
	return s != "" && s != "." && s != ".." && s != "~" && !strings.ContainsAny(s, `/\`) && !strings.HasPrefix(s, "~")
}

// managedFlags are the llama-server flags ocm-tray sets from the settings.
// Passing them again in llama_server_args would make the child listen or
// load somewhere the supervisor does not probe.
var managedFlags = []string{"-m", "--model", "--host", "--port", "-c", "--ctx-size", "--models-dir", "--models-max", "--sleep-idle-seconds"}

// managedFlag reports whether arg is a managed flag, alone or in the
// --flag=value form.
func managedFlag(arg string) (string, bool) {
	name, _, _ := strings.Cut(arg, "=")
	if slices.Contains(managedFlags, name) {
		return name, true
	}
	return "", false
}

func managedFix(flag string) string {
	if fix, ok := modelsFlagFix(flag); ok {
		return fix
	}
	switch flag {
	case "-m", "--model":
		return "remove it and set model_id (and models_dir) instead"
	case "--host", "--port":
		return "remove it and set inference_base_url instead"
	default:
		return "remove it and set ctx_len instead"
	}
}
