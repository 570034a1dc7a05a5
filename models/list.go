package models

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/regular"
)

// Model is one model in the models folder: a .gguf file, or the parts of a
// split model taken together.
type Model struct {
	// ID is the file name without .gguf (the first part's, for a split
	// model): what model_id names and what llama-server's router calls it.
	ID    string
	Path  string // the (first) file
	Parts int    // 1, or how many files a split model has
	Size  int64  // bytes on disk, all parts

	// From the GGUF header, when it could be read.
	Params       uint64 // weights; 0 when unknown
	Quant        string // "Q4_K_M"; "" when unknown
	Architecture string

	// Problem says why llama-server cannot load it now ("" when nothing
	// was found wrong): being written, incomplete, a missing part...
	Problem string
	// Settle is set while a file is still being written: when to look
	// again.
	Settle time.Duration
}

// maxListed bounds how many files List looks at: a models folder pointed
// at a huge directory must not stall the menu.
const maxListed = 1000

// List returns the models in dir, sorted by ID. Split parts are one model;
// projector files (mmproj, the vision part of a multimodal model) are not
// models of their own, and hidden files (a download's temporary file) are
// left out. A folder that does not exist holds no models.
func List(dir string, now time.Time) ([]Model, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("models folder: %w", err)
	}
	// Group the parts of split models by the model's ID.
	type group struct {
		split Split
		parts map[int]string
	}
	groups := map[string]*group{}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, Ext) || strings.HasPrefix(name, ".") || strings.Contains(strings.ToLower(name), "mmproj") ||
			e.IsDir() || len(ids) >= maxListed {
			continue
		}
		stem := strings.TrimSuffix(name, Ext)
		sp, ok := ParseSplit(stem)
		if !ok {
			sp = Split{Base: stem, No: 1, Count: 1}
		}
		id := stem
		if ok {
			id = sp.PartID(1)
		}
		g := groups[id]
		if g == nil {
			g = &group{split: sp, parts: map[int]string{}}
			groups[id] = g
			ids = append(ids, id)
		}
		g.parts[sp.No] = filepath.Join(dir, name)
	}
	sort.Strings(ids)
	out := make([]Model, 0, len(ids))
	for _, id := range ids {
		g := groups[id]
		m := Model{ID: id, Path: filepath.Join(dir, id+Ext), Parts: g.split.Count}
		for no := 1; no <= g.split.Count; no++ {
			p, ok := g.parts[no]
			if !ok {
				if m.Problem == "" {
					m.Problem = fmt.Sprintf("part %d of %d is missing", no, g.split.Count)
				}
				continue
			}
			v := JudgeFile(p, now)
			m.Size += v.Size
			if no == 1 && v.HasHeader {
				m.Quant, m.Architecture = v.Header.Quant(), v.Header.Architecture
			}
			if v.HasHeader {
				m.Params += v.Header.Params
			}
			if m.Problem == "" {
				m.Problem = v.Describe()
				if m.Parts > 1 && m.Problem != "" {
					m.Problem = fmt.Sprintf("part %d of %d %s", no, g.split.Count, m.Problem)
				}
			}
			m.Settle = max(m.Settle, v.Settle)
		}
		out = append(out, m)
	}
	return out, nil
}

// Describe says what is wrong with the file in a few words, "" when
// nothing is: "is still being written (1.2 GB so far)", "is incomplete:
// 1.2 of 4.7 GB", "is not a GGUF file".
func (v Verdict) Describe() string {
	switch v.Problem {
	case Writing:
		return fmt.Sprintf("is still being written (%s so far)", Bytes(v.Size))
	case Incomplete:
		if v.Want == 0 {
			return fmt.Sprintf("is incomplete: %s, cut short inside its header", Bytes(v.Size))
		}
		return "is incomplete: " + BytesOf(v.Size, v.Want)
	case NotGGUF:
		if v.Size == 0 {
			return "is not a GGUF file (it is empty)"
		}
		return "is not a GGUF file"
	case Damaged:
		return fmt.Sprintf("is damaged (%s): download it again", v.Detail)
	case Unreadable:
		return "cannot be read: " + v.Detail
	case NotRegular:
		return fmt.Sprintf("is %s, not a .gguf file", regular.Kind(v.Mode))
	}
	return ""
}

// Params writes a weight count the way model names do: "494M", "7.6B".
func Params(n uint64) string {
	switch {
	case n == 0:
		return ""
	case n >= 1e12:
		return trim(float64(n)/1e12) + "T"
	case n >= 1e9:
		return trim(float64(n)/1e9) + "B"
	case n >= 1e6:
		return trim(float64(n)/1e6) + "M"
	case n >= 1e3:
		return trim(float64(n)/1e3) + "K"
	}
	return fmt.Sprint(n)
}

// trim writes x with one decimal below 10 and none above: 7.6, 494, 70.
func trim(x float64) string {
	if x < 10 {
		return strings.TrimSuffix(fmt.Sprintf("%.1f", x), ".0")
	}
	return fmt.Sprintf("%.0f", x)
}

// Find returns the model that name means: its ID, the ID with .gguf, or
// the name of a split model without its part suffix.
func Find(list []Model, name string) (Model, bool) {
	name = strings.TrimSuffix(name, Ext)
	for _, m := range list {
		if m.ID == name {
			return m, true
		}
	}
	for _, m := range list {
		if sp, ok := ParseSplit(m.ID); ok && sp.Base == name {
			return m, true
		}
	}
	return Model{}, false
}
