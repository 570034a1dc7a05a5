package settings

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyIndex tells on which line a key, or an element of an array, appears
// first.
//
// It exists because go-toml/v2 reports no positions for decoded values:
// checks done after decoding (ranges, cross-field rules) would otherwise
// name a key but not the line to look at.
//
// Only keys up to maxIndexDepth parts deep are kept, since the settings have
// no deeper ones to look up. That bound is what keeps the index linear in
// the size of the file: storing every prefix of a 500,000-part dotted key
// a.a.a... (each as long as the part count) would take memory quadratic in
// the key's length, gigabytes for a file of a few kilobytes.
type keyIndex struct {
	keys  map[string]int   // key path, as formatKey writes it -> line
	elems map[string][]int // key path of an array -> line of each element
}

// maxIndexDepth is the depth of the deepest settings key: a table and a key
// in it, such as supervisor.max_restarts.
const maxIndexDepth = 2

// line returns the line of a key path such as "supervisor.max_restarts", or
// 0 when it is not in the file.
func (idx keyIndex) line(key string) int { return idx.keys[key] }

// elemLine returns the line of element i of the array at key, or 0.
func (idx keyIndex) elemLine(key string, i int) int {
	if ls := idx.elems[key]; i >= 0 && i < len(ls) {
		return ls[i]
	}
	return 0
}

// indexKeys walks the document with go-toml's AST parser. It is called only
// on documents that already decoded, so a parse error here cannot happen; if
// one did, the lines found so far are still right and the rest stay unknown.
func indexKeys(data []byte) keyIndex {
	idx := keyIndex{keys: map[string]int{}, elems: map[string][]int{}}
	lines := newLineTable(data)
	var p unstable.Parser
	p.Reset(data)
	var table []string // the current table's first parts, at most maxIndexDepth
	depth := 0         // how many parts the current table's name has
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table, depth = nil, 0
			it := e.Key()
			line := 0
			for it.Next() {
				n := it.Node()
				if line == 0 {
					line = lines.at(n.Raw.Offset)
				}
				if depth++; depth <= maxIndexDepth {
					table = append(table, string(n.Data))
					idx.add(formatKey(table), line)
				}
			}
		case unstable.KeyValue:
			indexKeyValue(idx, lines, table, depth, e)
		}
	}
	return idx
}

// indexKeyValue records a key = value expression at depth parts below the
// top (prefix holds the first of them): every prefix of a dotted key, the
// keys of an inline-table value and the elements of an array value, as far
// as maxIndexDepth.
func indexKeyValue(idx keyIndex, lines lineTable, prefix []string, depth int, kv *unstable.Node) {
	path := make([]string, len(prefix), maxIndexDepth)
	copy(path, prefix)
	line := 0
	it := kv.Key()
	for it.Next() {
		n := it.Node()
		if line == 0 {
			line = lines.at(n.Raw.Offset)
		}
		if depth++; depth <= maxIndexDepth {
			path = append(path, string(n.Data))
			idx.add(formatKey(path), line)
		}
	}
	if depth > maxIndexDepth {
		return
	}
	v := kv.Value()
	switch v.Kind {
	case unstable.InlineTable:
		if depth == maxIndexDepth {
			return // its keys would be deeper
		}
		c := v.Children()
		for c.Next() {
			if n := c.Node(); n.Kind == unstable.KeyValue {
				indexKeyValue(idx, lines, path, depth, n)
			}
		}
	case unstable.Array:
		key := formatKey(path)
		if _, ok := idx.elems[key]; ok {
			return
		}
		var ls []int
		c := v.Children()
		for c.Next() {
			n := c.Node()
			if n.Kind == unstable.Comment {
				continue
			}
			l := line
			if n.Raw.Length > 0 {
				l = lines.at(n.Raw.Offset)
			}
			ls = append(ls, l)
		}
		idx.elems[key] = ls
	}
}

func (idx keyIndex) add(key string, line int) {
	if _, ok := idx.keys[key]; !ok && line > 0 {
		idx.keys[key] = line
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
	if line < 1 {
		return ""
	}
	// Walk the lines without splitting the document: only header lines are
	// looked at closely, so a file of many lines costs no allocation each.
	var table []string
	for i := 1; i < line; i++ {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			return ""
		}
		if t := bytes.TrimSpace(data[:end]); len(t) > 0 && t[0] == '[' {
			if h, ok := headerName(t); ok {
				table = h
			}
		}
		data = data[end+1:]
	}
	if end := bytes.IndexByte(data, '\n'); end >= 0 {
		data = data[:end]
	}
	text := bytes.TrimSpace(data)
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
