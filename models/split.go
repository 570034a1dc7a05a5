package models

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Ext is the extension of model files.
const Ext = ".gguf"

// Split describes a model file name of llama.cpp's split form,
// NAME-00001-of-00003.gguf: part No (from 1) of Count.
type Split struct {
	Base      string // NAME
	No, Count int
}

// ParseSplit reads a split part's name, given without its directory and
// without .gguf. ok is false for a name not of that form.
func ParseSplit(id string) (s Split, ok bool) {
	// NAME-ddddd-of-ddddd, the five digits llama.cpp writes.
	rest, count, found := cutLast(id, "-of-")
	if !found {
		return Split{}, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return Split{}, false
	}
	base, no := rest[:i], rest[i+1:]
	n, okN := digits(no)
	c, okC := digits(count)
	if !okN || !okC || n < 1 || c < 1 || n > c {
		return Split{}, false
	}
	return Split{Base: base, No: n, Count: c}, true
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// digits parses a part number: five decimal digits.
func digits(s string) (int, bool) {
	if len(s) != 5 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// PartID is the id (file name without .gguf) of part no of the split.
func (s Split) PartID(no int) string {
	return fmt.Sprintf("%s-%05d-of-%05d", s.Base, no, s.Count)
}

// Parts lists the files a model consists of, given the path of its first
// (or only) file: the path itself, or every part of a split model.
func Parts(path string) []string {
	dir, name := filepath.Split(path)
	sp, ok := ParseSplit(strings.TrimSuffix(name, Ext))
	if !ok || !strings.HasSuffix(name, Ext) {
		return []string{path}
	}
	parts := make([]string, sp.Count)
	for i := range parts {
		parts[i] = filepath.Join(dir, sp.PartID(i+1)+Ext)
	}
	return parts
}
