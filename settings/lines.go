package settings

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyIndex maps a key path, as formatKey writes it ("supervisor.max_restarts",
// "llama_server_args[1]"), to the 1-based line where it appears first.
//
// It exists because go-toml/v2 reports no positions for decoded values:
// checks done after decoding (ranges, cross-field rules) would otherwise
// name a key but not the line to look at.
type keyIndex map[string]int

// indexKeys walks the document with go-toml's AST parser. It is called only
// on documents that already decoded, so a parse error here cannot happen; if
// one did, the lines found so far are still right and the rest stay unknown.
func indexKeys(data []byte) keyIndex {
	idx := keyIndex{}
	lines := newLineTable(data)
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			it := e.Key()
			table = table[:0:0]
			line := 0
			for it.Next() {
				n := it.Node()
				if line == 0 {
					line = lines.at(n.Raw.Offset)
				}
				table = append(table, string(n.Data))
				idx.add(formatKey(table), line)
			}
		case unstable.KeyValue:
			indexKeyValue(idx, lines, table, e)
		}
	}
	return idx
}

// indexKeyValue records a key = value expression, every prefix of a dotted
// key, the keys of an inline-table value and the elements of an array value.
func indexKeyValue(idx keyIndex, lines lineTable, prefix []string, kv *unstable.Node) {
	path := append([]string(nil), prefix...)
	line := 0
	it := kv.Key()
	for it.Next() {
		n := it.Node()
		if line == 0 {
			line = lines.at(n.Raw.Offset)
		}
		path = append(path, string(n.Data))
		idx.add(formatKey(path), line)
	}
	v := kv.Value()
	switch v.Kind {
	case unstable.InlineTable:
		c := v.Children()
		for c.Next() {
			if n := c.Node(); n.Kind == unstable.KeyValue {
				indexKeyValue(idx, lines, path, n)
			}
		}
	case unstable.Array:
		c := v.Children()
		i := 0
		for c.Next() {
			n := c.Node()
			if n.Kind == unstable.Comment {
				continue
			}
			l := line
			if n.Raw.Length > 0 {
				l = lines.at(n.Raw.Offset)
			}
			idx.add(formatKey(path)+"["+strconv.Itoa(i)+"]", l)
			i++
		}
	}
}

func (idx keyIndex) add(key string, line int) {
	if _, ok := idx[key]; !ok && line > 0 {
		idx[key] = line
	}
}

// lineTable turns byte offsets into line numbers in O(log n).
type lineTable []int // offsets of each '\n'

func newLineTable(data []byte) lineTable {
	var t lineTable
	for i, b := range data {
		if b == '\n' {
			t = append(t, i)
		}
	}
	return t
}

// at returns the 1-based line of a byte offset.
func (t lineTable) at(offset uint32) int {
	return sort.SearchInts(t, int(offset)) + 1
}

// formatKey writes a key path the way TOML would: bare parts as they are,
// other parts quoted, so a key with a newline or dot in it still prints on
// one unambiguous line.
func formatKey(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		if isBareKey(p) {
			b.WriteString(p)
		} else {
			b.WriteString(strconv.Quote(p))
		}
	}
	return b.String()
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// keyOnLine guesses the key a syntax error belongs to, for the many go-toml
// errors that carry a line but no key: the text before '=' on that line,
// inside the nearest [table] header above it, or the header itself. It is a
// best effort by text (the document did not parse); "" when nothing looks
// like a key.
func keyOnLine(data []byte, line int) string {
	ls := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(ls) {
		return ""
	}
	var table []string
	for i := 0; i < line-1; i++ {
		if h, ok := headerName(ls[i]); ok {
			table = h
		}
	}
	text := bytes.TrimSpace(ls[line-1])
	if h, ok := headerName(text); ok {
		return formatKey(h)
	}
	eq := bytes.IndexByte(text, '=')
	if eq <= 0 {
		return ""
	}
	k, ok := splitKey(string(bytes.TrimSpace(text[:eq])))
	if !ok {
		return ""
	}
	return formatKey(append(table, k...))
}

// headerName recognises "[a.b]" and "[[a.b]]" lines.
func headerName(line []byte) ([]string, bool) {
	t := strings.TrimSpace(string(line))
	if i := strings.IndexByte(t, '#'); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	if !strings.HasPrefix(t, "[") || !strings.HasSuffix(t, "]") {
		return nil, false
	}
	t = strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")
	t = strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")
	return splitKey(strings.TrimSpace(t))
}

// splitKey splits a dotted key of bare parts; quoted keys are not guessed.
func splitKey(k string) ([]string, bool) {
	if k == "" {
		return nil, false
	}
	parts := strings.Split(k, ".")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !isBareKey(p) {
			return nil, false
		}
		parts[i] = p
	}
	return parts, true
}
