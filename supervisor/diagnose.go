package supervisor

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// diagnosis is what the supervisor makes of a failed child: the last_error a
// person reads, what to do about it, and whether another try could help.
type diagnosis struct {
	lastError string
	hint      string
	// permanent marks a failure that retrying cannot fix (an argument the
	// binary rejects, a file that is no model, an architecture the build
	// does not know): the restart budget is not spent on it.
	permanent bool
}

// The hints. Each says what to do, in the settings' own words.
const (
	hintOOM = "not enough memory to load the model: choose a smaller quantisation, " +
		"lower ctx_len, or offload fewer layers to the GPU (-ngl in llama_server_args)"
	hintOOMKiller = "killed without an error message: most likely the kernel's out-of-memory killer " +
		"(`journalctl -k | grep -i oom` shows it); choose a smaller quantisation or lower ctx_len"
	hintNotGGUF = "the model file is not a GGUF file or is damaged: download it again, " +
		"or point model_id at a .gguf file"
	hintOpenModel    = "llama-server cannot open the model file: check that it exists and is readable"
	hintStartTimeout = "the model was still loading: raise startup_timeout under [supervisor] for a big model or a slow disk"
)

// hintUnknownArg is the hint for an argument the binary rejects.
func hintUnknownArg(arg string) string {
	return fmt.Sprintf("this llama-server does not know the argument %s: remove it from llama_server_args "+
		"in the settings (or update llama.cpp if it is a newer option)", arg)
}

func hintBadValue(arg string) string {
	return fmt.Sprintf("llama-server rejects the value given to %s: fix it in llama_server_args in the settings", arg)
}

func hintUnknownArch(arch string) string {
	return fmt.Sprintf("this llama.cpp build does not know the model's architecture %s: "+
		"update llama.cpp (llama_server_binary), or choose a model it supports", arch)
}

// HintPortTaken is the hint for a port another program holds.
func HintPortTaken(port int) string {
	return fmt.Sprintf("another program holds port %d: stop it, or choose another port in inference_base_url", port)
}

// diagnoseExit turns how the child ended ("exited with status 1", "killed
// by SIGKILL") and its last stderr lines into a diagnosis.
func diagnoseExit(how string, tail []string) diagnosis {
	lines := classify(tail)
	d := diagnosis{lastError: how}
	if t := tellingLine(lines); t != "" {
		d.lastError = how + ": " + t
	}
	d.hint, d.permanent = hintFor(lines)
	if d.hint == "" && how == "killed by SIGKILL" && !hasError(lines) {
		d.hint = hintOOMKiller
	}
	return d
}

// lineKind sorts a cleaned stderr line by how much it tells a person.
type lineKind int

const (
	kindNothing  lineKind = iota // says nothing about a failure ("listening on ...")
	kindAbort                    // the C++ runtime's last words, printed on every abort
	kindOrdinary                 // anything else that is no error
	kindWeak                     // says that something failed, not what ("exiting due to model loading error")
	kindError
)

type logLine struct {
	text string
	kind lineKind
}

// classify cleans every line and sorts it. A line a router relays from one
// of its model servers ("[port] ...") says why that model failed, not why
// the router ended: it is never taken as the router's cause (nor as a
// reason to give up on the router at once), so one bad model file cannot
// stop the others. Its model's own state carries it (parseModels).
func classify(tail []string) []logLine {
	out := make([]logLine, 0, len(tail))
	for _, raw := range tail {
		text, level := cleanLine(raw)
		if text == "" {
			continue
		}
		kind := kindOf(text, level)
		if fromModelServer(raw) {
			kind = kindNothing
		}
		out = append(out, logLine{text: text, kind: kind})
	}
	return out
}

// fromModelServer reports whether raw carries a router's "[port] " prefix.
func fromModelServer(raw string) bool {
	s := strings.TrimSpace(stripControl(raw))
	i := strings.Index(s, "] ")
	return strings.HasPrefix(s, "[") && i > 1 && allDigits(s[1:i])
}

// Lines that say nothing about why a server ended, as lower-case prefixes.
var nothingPrefixes = []string{
	"listening on ", "http server is listening", "server is listening on",
	"model loaded", "cleaning up before exit",
}

// abortPrefixes: libstdc++'s "terminate called without an active exception"
// comes with every abort of the early-2025 server, a clean SIGTERM
// included, and the second-signal notice with every impatient stop. They are
// the last resort, never picked over a line that says why.
var abortPrefixes = []string{"terminate called", "received second interrupt"}

// errorWords mark an error line where the log carries no level letter (the
// early-2025 builds).
var errorWords = []string{"error", "failed", "couldn't", "cannot", "invalid", "unable to", "out of memory", "bad_alloc", "unknown model architecture"}

func kindOf(text string, level byte) lineKind {
	l := strings.ToLower(text)
	for _, p := range nothingPrefixes {
		if strings.HasPrefix(l, p) {
			return kindNothing
		}
	}
	for _, p := range abortPrefixes {
		if strings.HasPrefix(l, p) {
			return kindAbort
		}
	}
	if strings.HasPrefix(l, "exiting due to ") {
		return kindWeak
	}
	switch level {
	case 'E':
		return kindError
	case 'I', 'W', 'D', 'T':
		// A warning never ended a server by itself ("failed to mmap,
		// falling back" is one).
		return kindOrdinary
	}
	for _, w := range errorWords {
		if strings.Contains(l, w) {
			return kindError
		}
	}
	return kindOrdinary
}

func hasError(lines []logLine) bool {
	for _, l := range lines {
		if l.kind == kindError {
			return true
		}
	}
	return false
}

// tellingLine picks the most telling of the last lines: an error line among
// the last few, else a line that says something failed, else the last line
// that says anything. Of a run of error lines the first is taken: a failure
// cascades ("invalid magic characters", then "failed to load model" lines,
// then "exiting due to model loading error") and its first line names the
// cause. Lines that say nothing ("listening on ...", "cleaning up before
// exit") are never picked and do not break a run.
func tellingLine(lines []logLine) string {
	const lookBack = 8
	var told []logLine // everything but the lines that say nothing
	for _, l := range lines {
		if l.kind != kindNothing {
			told = append(told, l)
		}
	}
	start := max(0, len(told)-lookBack)
	for i := len(told) - 1; i >= start; i-- {
		if told[i].kind == kindError {
			for i > start && told[i-1].kind == kindError {
				i--
			}
			return told[i].text
		}
	}
	for _, want := range []lineKind{kindWeak, kindOrdinary, kindAbort} {
		for i := len(told) - 1; i >= start; i-- {
			if told[i].kind == want {
				return told[i].text
			}
		}
	}
	return ""
}

var (
	reInvalidArg = regexp.MustCompile(`^error: invalid argument: (.+)$`)
	reBadValue   = regexp.MustCompile(`^error while handling argument "([^"]+)"`)
	reArch       = regexp.MustCompile(`unknown model architecture: ('[^']*'|\S+)`)
	rePort       = regexp.MustCompile(`couldn't bind HTTP server socket, hostname: [^,]*, port: (\d+)`)
)

// hintFor finds the cause among the error lines, most specific first, and
// whether retrying can fix it.
func hintFor(lines []logLine) (hint string, permanent bool) {
	find := func(re *regexp.Regexp) []string {
		for _, l := range lines {
			if l.kind != kindError {
				continue
			}
			if m := re.FindStringSubmatch(l.text); m != nil {
				return m
			}
		}
		return nil
	}
	has := func(subs ...string) bool {
		for _, l := range lines {
			if l.kind != kindError {
				continue
			}
			low := strings.ToLower(l.text)
			for _, s := range subs {
				if strings.Contains(low, s) {
					return true
				}
			}
		}
		return false
	}
	// The argument parser's own lines start with "error": elsewhere,
	// "invalid argument" is also a CUDA error, which no settings edit fixes.
	if m := find(reInvalidArg); m != nil {
		return hintUnknownArg(m[1]), true
	}
	if m := find(reBadValue); m != nil {
		return hintBadValue(m[1]), true
	}
	if m := find(reArch); m != nil {
		return hintUnknownArch(m[1]), true
	}
	if has("invalid magic characters", "corrupted or incomplete", "failed to read magic", "failed to read tensor info", "failed to read key-value pairs") {
		return hintNotGGUF, true
	}
	// Memory may be free at the next try (a server that just exited still
	// held it): worth the budget.
	if has("out of memory", "failed to allocate", "unable to allocate", "bad_alloc", "erroroutofdevicememory", "cannot allocate memory") {
		return hintOOM, false
	}
	if m := find(rePort); m != nil {
		var p int
		fmt.Sscan(m[1], &p)
		return HintPortTaken(p), false
	}
	if has("failed to open gguf file") {
		return hintOpenModel, false
	}
	return "", false
}

// reTimestamp is the elapsed time current llama.cpp builds put first on
// every log line: minutes.seconds.milliseconds.microseconds.
var reTimestamp = regexp.MustCompile(`^\d+\.\d{2}\.\d{3}\.\d{3} `)

// reComponent is the server's own prefix: a component, then the function
// right-aligned in twelve columns ("srv    load_model: ", "slot launch_slot_: ").
var reComponent = regexp.MustCompile(`^(srv|slot|que|res|cmpl) +[A-Za-z_][\w:~()<>]*: `)

// reFunction is a C or C++ function name that starts a log line
// ("gguf_init_from_file_impl: ", "operator(): "). A plain word is not
// taken ("error: invalid argument" keeps its "error:"), except "main".
var reFunction = regexp.MustCompile(`^(main|[A-Za-z_][\w~<>]*(_[\w~<>]*|\(\))): `)

// cleanLine makes one stderr line fit for a person: terminal escapes and
// control characters go, then llama.cpp's prefixes (the router's "[port]",
// the elapsed time, the level letter, the component and the function), so
// "0.00.034.250 E srv    load_model: failed to load model" reads "failed to
// load model". level is the line's level letter (I, W, E, D), or 0 when the
// line carries none.
func cleanLine(raw string) (text string, level byte) {
	s := stripControl(raw)
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "] "); i > 1 && allDigits(s[1:i]) {
			s = s[i+2:]
		}
	}
	if loc := reTimestamp.FindStringIndex(s); loc != nil {
		s = s[loc[1]:]
		if len(s) >= 2 && strings.IndexByte("IWEDT", s[0]) >= 0 && s[1] == ' ' {
			level, s = s[0], s[2:]
		}
	} else if len(s) >= 3 && strings.IndexByte("IWED", s[0]) >= 0 && s[1] == ' ' &&
		(reComponent.MatchString(s[2:]) || reFunction.MatchString(s[2:])) {
		// The level letter without a timestamp (--log-timestamps off).
		level, s = s[0], s[2:]
	}
	s = strings.TrimLeft(s, " ")
	if loc := reComponent.FindStringIndex(s); loc != nil {
		s = s[loc[1]:]
	}
	for range 3 { // "operator(): operator(): cleaning up" names its function twice
		loc := reFunction.FindStringIndex(s)
		if loc == nil {
			break
		}
		s = s[loc[1]:]
	}
	return strings.TrimSpace(s), level
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// stripControl removes terminal escape sequences (colours, cursor moves,
// titles) and every other control character, and repairs invalid UTF-8:
// nothing a terminal would interpret reaches last_error. A tab becomes a
// space.
func stripControl(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError }) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x1b:
			i += escapeLen(s[i:])
			continue
		case r == 0x9b: // CSI as one C1 character
			i += n + csiLen(s[i+n:])
			continue
		case r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// escapeLen is the length of the escape sequence at the start of s (s[0] is
// ESC): CSI "ESC [ ... final", OSC "ESC ] ... BEL or ESC \", or ESC and
// one more character.
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[':
		return 2 + csiLen(s[2:])
	case ']', 'P', '_', '^': // OSC, DCS, APC, PM: up to BEL or ST
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	return 2
}

// csiLen is the length of a CSI sequence's parameters, intermediates and
// final byte at the start of s.
func csiLen(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x40 && s[i] <= 0x7e {
			return i + 1
		}
		if s[i] < 0x20 || s[i] > 0x7e {
			return i // a broken sequence: stop before what is not part of it
		}
	}
	return len(s)
}
