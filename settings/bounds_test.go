package settings

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// longestRun is the length of the longest run of c in s: how much of a
// filler value a message quoted.
func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

// maxProblemLine is how long one problem may print, beyond its file name:
// a key and a value quoted at MaxQuoted bytes each, and the words around.
const maxProblemLine = 4*MaxQuoted + 400

// Every message quotes at most MaxQuoted bytes of a value, however long the
// value; a key is cut the same way.
func TestMessagesQuoteAtMostMaxQuoted(t *testing.T) {
	long := strings.Repeat("x", 300000)
	llamaHead := "backend = \"llamacpp\"\nmodel_id = \"m\"\n"
	for name, doc := range map[string]string{
		"backend":                    `backend = "` + long + `"`,
		"model_id path":              "backend = \"llamacpp\"\nmodel_id = \"/" + long + "\"",
		"model_id control":           "backend = \"llamacpp\"\nmodel_id = \"\\u0007" + long + "\"",
		"model_id too long":          "backend = \"llamacpp\"\nmodel_id = \"" + long + "\"",
		"model_id .gguf":             "backend = \"llamacpp\"\nmodel_id = \"" + long[:240] + ".gguf\"",
		"binary relative":            `llama_server_binary = "./` + long[:4000] + `"`,
		"binary control":             `llama_server_binary = "/\u0007` + long[:4000] + `"`,
		"binary too long":            `llama_server_binary = "/` + long + `"`,
		"models_dir relative":        `models_dir = "` + long[:4000] + `"`,
		"models_dir too long":        `models_dir = "/` + long + `"`,
		"args NUL":                   `llama_server_args = ["\u0000` + long + `"]`,
		"args managed":               `llama_server_args = ["--port=` + long + `"]`,
		"level":                      "[notifications]\nlevel = \"" + long + "\"",
		"duration":                   "[supervisor]\nstop_timeout = \"" + long + "\"",
		"url not a url":              llamaHead + `inference_base_url = "` + long + `"`,
		"url control":                llamaHead + `inference_base_url = "http://h:1/` + long + "\\u0007\"",
		"url scheme":                 llamaHead + `inference_base_url = "` + long + `://h:1"`,
		"url no port":                llamaHead + `inference_base_url = "http://h/` + long + `"`,
		"url port":                   llamaHead + `inference_base_url = "http://h:` + strings.Repeat("9", 300000) + `"`,
		"url user":                   llamaHead + `inference_base_url = "http://` + long + `@h:1"`,
		"url host":                   llamaHead + `inference_base_url = "http://h` + long + `:1"`,
		"unknown key":                long + " = 1",
		"unknown table":              "[" + long + "]",
		"unknown key in a table":     "[supervisor]\n" + long + " = 1",
		"syntax error with long key": long + " = ",
		"type error with long key":   "[" + long + "]\n[[" + long + "]]",
	} {
		_, probs := Parse("f.toml", []byte(doc))
		if len(probs) == 0 {
			t.Errorf("%s: no problem", name)
			continue
		}
		for _, p := range probs {
			line := p.String()
			if n := longestRun(line, 'x'); n > MaxQuoted || len(line)-len(p.File) > maxProblemLine {
				t.Errorf("%s: a problem of %d bytes quotes %d bytes of the value: %.300s…", name, len(line), n, line)
			}
		}
	}
	// Gate reasons quote values the same way.
	for _, s := range []Settings{
		{Backend: Backend(long)},
		{Backend: BackendLlamaCpp, LlamaServerBinary: long},
		{Backend: BackendLlamaCpp, LlamaServerBinary: "./" + long},
		{Backend: BackendLlamaCpp, LlamaServerBinary: "/bin/sh", ModelID: "/" + long},
	} {
		d := Gate(s, "/models", OSFS{})
		if n := longestRun(d.Reason, 'x'); d.Spawn || n > MaxQuoted || len(d.Reason) > maxProblemLine {
			t.Errorf("gate reason of %d bytes quotes %d bytes of the value: %.300s…", len(d.Reason), n, d.Reason)
		}
	}
}

// A report lists at most MaxProblems problems, the last saying how many
// more there are; settings_error stays within MaxErrorText. Before, 20,000
// managed flags in llama_server_args made a 4 MB report.
func TestReportIsBounded(t *testing.T) {
	// 20,000 flags are past MaxPieces: one problem says so.
	_, probs := Parse("f.toml", []byte("llama_server_args = [\n"+strings.Repeat("\"--port\",\n", 20000)+"]\n"))
	if len(probs) != 1 || len(ErrorText(probs)) > MaxErrorText {
		t.Fatalf("20,000 flags: %d problems", len(probs))
	}

	// As many as fit within MaxPieces: each is a problem, but the report
	// lists only MaxProblems.
	const flags = MaxPieces - 10
	doc := "llama_server_args = [\n" + strings.Repeat("\"--port\",\n", flags) + "]\nzz = 1\n"
	_, probs = Parse("f.toml", []byte(doc))
	if len(probs) != MaxProblems {
		t.Fatalf("%d problems, want %d", len(probs), MaxProblems)
	}
	last := probs[len(probs)-1]
	// flags errors and the unknown key: all but the first MaxProblems-1.
	wantMore := flags + 1 - (MaxProblems - 1)
	if last.Warning || last.Line != MaxProblems+1 || !strings.Contains(last.Msg, "and "+strconv.Itoa(wantMore)+" more problems") {
		t.Fatalf("last problem = %#v, want the count of the %d left out", last, wantMore)
	}
	if !HasErrors(probs) {
		t.Fatal("errors lost")
	}
	report := 0
	for _, p := range probs {
		report += len(p.String()) + 1
	}
	if report > MaxProblems*maxProblemLine {
		t.Fatalf("report of %d bytes", report)
	}

	text := ErrorText(probs)
	if len(text) > MaxErrorText+100 || !strings.HasPrefix(text, probs[0].String()+"; ") ||
		!strings.HasSuffix(text, " more (ocm-tray check lists them)") {
		t.Fatalf("ErrorText = %d bytes: %.300s…%s", len(text), text, text[max(0, len(text)-100):])
	}
	// The count at the end covers every error left out, including those
	// the cut report stands for.
	written := strings.Count(text, "is set by ocm-tray itself")
	if !strings.HasSuffix(text, "; and "+strconv.Itoa(flags-written)+" more (ocm-tray check lists them)") {
		t.Fatalf("ErrorText wrote %d errors and ends %q, want %d more", written, text[len(text)-60:], flags-written)
	}

	// Warnings are left out of settings_error; one long error is cut.
	if got := ErrorText([]Problem{{File: "f", Msg: "w", Warning: true}}); got != "" {
		t.Fatalf("ErrorText(warning) = %q", got)
	}
	one := ErrorText([]Problem{{File: "f", Key: "k", Msg: strings.Repeat("m", 10000), Fix: "fix"}})
	if len(one) > MaxErrorText+10 || !strings.HasPrefix(one, "f: k: mmm") {
		t.Fatalf("ErrorText(one long) = %d bytes %.100q", len(one), one)
	}

	// Many unknown keys: one warning, naming the first few and counting
	// the rest.
	var keys strings.Builder
	for i := range MaxPieces {
		fmt.Fprintf(&keys, "k%d = 1\n", i)
	}
	_, probs = Parse("f.toml", []byte(keys.String()))
	if len(probs) != 1 || len(probs[0].Key) > MaxQuoted || !strings.HasPrefix(probs[0].Key, "k0, k1, k2") || !strings.Contains(probs[0].Key, " more") {
		t.Fatalf("many unknown keys: %v", probs)
	}
}
