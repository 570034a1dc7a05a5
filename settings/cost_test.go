package settings

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// costInput is a settings file built to be as expensive as possible to
// check, for a given size.
type costInput struct {
	name string
	make func(size int) string
}

// repeatTo repeats unit until the text is about size bytes, between head
// and tail.
func repeatTo(size int, head, unit, tail string) string {
	n := (size - len(head) - len(tail)) / len(unit)
	return head + strings.Repeat(unit, max(n, 0)) + tail
}

// numbered writes format(i) for i = 0, 1, ... until the text is about
// size bytes.
func numbered(size int, head, format string) string {
	var b strings.Builder
	b.WriteString(head)
	for i := 0; b.Len() < size-len(format)-10; i++ {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

// nest opens and closes as deep as size allows, up to just short of the
// 10000 levels TOML's parser allows.
func nest(size int, head, open, close string) string {
	depth := min((size-len(head))/(len(open)+len(close)), 9990)
	return head + strings.Repeat(open, depth) + strings.Repeat(close, depth) + "\n"
}

// costInputs are the worst inputs found for each way a document can grow:
// long keys, many keys, many tables, long arrays, deep nesting, long
// values, and many problems at once.
var costInputs = []costInput{
	{"dotted key", func(n int) string { return repeatTo(n, "", "a.", "a = 1\n") }},
	{"dotted key in a table", func(n int) string { return repeatTo(n, "[supervisor]\n", "a.", "a = 1\n") }},
	{"dotted table header", func(n int) string { return repeatTo(n, "[", "a.", "a]\n") }},
	{"dotted array table header", func(n int) string { return repeatTo(n, "[[", "a.", "a]]\n") }},
	{"many tables", func(n int) string { return numbered(n, "", "[t%d]\n") }},
	{"many array tables", func(n int) string { return repeatTo(n, "", "[[t]]\n", "") }},
	{"many keys", func(n int) string { return numbered(n, "", "k%d = 1\n") }},
	{"many unknown keys in a table", func(n int) string { return numbered(n, "[supervisor]\n", "k%d = 1\n") }},
	{"many dotted keys", func(n int) string { return numbered(n, "", "a.k%d = 1\n") }},
	{"many misplaced keys", func(n int) string { return numbered(n, "", "[t%d]\nmax_restarts = 1\n") }},
	{"long array", func(n int) string { return repeatTo(n, "x = [", "1,", "1]\n") }},
	{"long array of tables", func(n int) string { return repeatTo(n, "x = [", "{},", "{}]\n") }},
	{"managed flags", func(n int) string { return repeatTo(n, "llama_server_args = [", `"-m",`, "\"-m\"]\n") }},
	{"non-string args", func(n int) string { return repeatTo(n, "llama_server_args = [", "1,", "1]\n") }},
	{"deep inline tables", func(n int) string { return nest(n, "", "a={", "}") }},
	{"deep inline tables in a table", func(n int) string { return nest(n, "[supervisor]\n", "a={", "}") }},
	{"deep arrays", func(n int) string { return nest(n, "a=", "[", "]") }},
	{"long key", func(n int) string { return repeatTo(n, "", "k", " = 1\n") }},
	{"long value", func(n int) string {
		return repeatTo(n, "backend = \"llamacpp\"\nmodel_id = \"", "a/", "\"\n")
	}},
	{"many lines then a syntax error", func(n int) string { return repeatTo(n, "", "#\n", "a.b.c =\n") }},
	{"long dotted key with a syntax error", func(n int) string { return repeatTo(n, "", "a.", "a =\n") }},
}

// The adversarial review's example: a 40,000-part dotted key in an 80 KB
// file cost 2.85 GB and 15 s.
const reviewExampleSize = 80 << 10

// underBudget is the largest input of the kind that stays within
// MaxPieces, so that it is decoded rather than refused: the most a file
// that is decoded can cost.
func underBudget(in costInput) []byte {
	lo, hi := 0, MaxFileSize // overPieces(lo) == 0, overPieces(hi) > 0 or hi is the cap
	if overPieces([]byte(in.make(hi))) == 0 {
		return []byte(in.make(hi))
	}
	for hi-lo > 16 {
		mid := (lo + hi) / 2
		if overPieces([]byte(in.make(mid))) == 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return []byte(in.make(lo))
}

// BenchmarkParseWorst measures Parse on each worst input, at the size cap
// and at the most that stays within MaxPieces.
//
//	go test -run '^$' -bench ParseWorst -benchmem ./settings/
func BenchmarkParseWorst(b *testing.B) {
	for _, in := range costInputs {
		for _, v := range []struct {
			name string
			data []byte
		}{{"cap", []byte(in.make(MaxFileSize - 64))}, {"budget", underBudget(in)}} {
			b.Run(in.name+"/"+v.name, func(b *testing.B) {
				b.SetBytes(int64(len(v.data)))
				b.ReportAllocs()
				for b.Loop() {
					Parse("f.toml", v.data)
				}
			})
		}
	}
}

// Checking a file costs memory linear in its size: every worst input, at
// the size cap, stays well under 100 MB. Memory, unlike time, does not
// depend on how loaded the machine is, and a quadratic cost shows in it as
// plainly (the review's example allocated 2.85 GB). The review's own
// example runs first, so that before the fix the test fails in seconds
// rather than running for hours on the larger inputs.
func TestParseCostIsLinear(t *testing.T) {
	const limit = 48 << 20
	run := func(name string, data []byte) {
		t.Helper()
		var probs []Problem
		n := testenv.Allocated(func() { _, probs = Parse("f.toml", data) })
		if n > limit {
			t.Fatalf("%s (%d bytes): Parse allocated %d MB, more than %d MB", name, len(data), n>>20, limit>>20)
		}
		t.Logf("%s (%d bytes): %d MB, %d problems", name, len(data), n>>20, len(probs))
	}
	run("review example", []byte(costInputs[0].make(reviewExampleSize)))
	for _, in := range costInputs {
		run(in.name+" at the size cap", []byte(in.make(MaxFileSize-64)))
		run(in.name+" within the budget", underBudget(in))
	}
}

// overPieces counts what the decoder will make tables, keys and values of,
// and nothing inside strings or comments, however they are quoted.
func TestOverPieces(t *testing.T) {
	count := func(doc string) int {
		// Padding of a known number of pieces in front finds the count:
		// the smallest padding deficit n that keeps the whole within the
		// budget is the document's own count.
		for n := 0; n <= 64; n++ {
			if overPieces([]byte(strings.Repeat(",", MaxPieces-n)+"\n"+doc)) == 0 {
				return n
			}
		}
		return -1
	}
	for doc, want := range map[string]int{
		"":                                 0,
		"# a.b = [1, 2] {x}":               0,
		"k = 1":                            1,
		"a.b.c = 1":                        3,
		"[t]\n[[u.v]]":                     4, // '[' of each header, '[' of the second bracket, '.'
		`x = ["a.b", 'c,d', "e\"f,g"]`:     4,
		`"q.k" = 'x = y'`:                  1,
		"x = \"\"\"a = [1,\n2]\"\"\"":      1,
		"x = '''a.b\n[c]'''":               1,
		"x = \"\"\"a\"\"\"\" ,":            2, // the quote after the closing three is content
		"x = \"\"\"\\\"\"\"\"":             1, // an escaped quote does not close
		"x = '\\' , y = 1":                 3, // literal strings have no escapes
		"x = \"unterminated\ny = 1":        2, // a one-line string ends with its line
		"x = {a = 1, b = [1.5]}":           7,
		"x = \"\"\"unterminated, [a] = \n": 1,
	} {
		if got := count(doc); got != want {
			t.Errorf("pieces of %q = %d, want %d", doc, got, want)
		}
	}
	// The line reported is the one where the budget ran out.
	doc := "s = \"\"\"\na\nb\"\"\"\n" + strings.Repeat("k = 1\n", MaxPieces-1) + "z = 1\n"
	if got := overPieces([]byte(doc)); got != MaxPieces+3 {
		t.Errorf("over on line %d, want %d", got, MaxPieces+3)
	}
	if n := count(string(Template())); n < 1 || n > MaxPieces/100 {
		t.Errorf("the template has %d pieces: the budget would not leave room for real files", n)
	}
}

// A file over the budget is refused with one problem that says why and
// where, before the decoder sees it.
func TestTooManyPieces(t *testing.T) {
	// Three pieces on the first two lines, one on each line after.
	doc := "backend = \"llamacpp\"\nllama_server_args = [\n" + strings.Repeat("\"-ngl\",\n", MaxPieces) + "]\n"
	_, probs := Parse("f.toml", []byte(doc))
	checkProblems(t, "f.toml", probs, []want{{MaxPieces, "", "more than " + strconv.Itoa(MaxPieces) + " keys, values and tables", "--config", false}})
}
