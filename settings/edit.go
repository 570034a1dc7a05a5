package settings

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/OpenCircuitDev/ocm-tray/internal/regular"
)

// The settings file is the user's: ocm-tray changes it only when asked
// (choosing a model), and then only the model_id line. Every other byte
// stays as it was (comments, order, blank lines, CRLF line ends, a missing
// final newline), the file is replaced in one rename (an editor or a crash
// never sees half a file), its mode is kept, a symlink's target is edited
// (the link stays a link), and nothing is written when the file is invalid
// or changed since the agent read it: the edit would be made on settings
// the agent never saw, or would undo an edit the person is making.

// Snapshot identifies the content of the settings file at one moment.
type Snapshot struct {
	Exists bool
	Sum    [sha256.Size]byte
}

// TakeSnapshot reads the settings file at path and identifies its content.
// A missing file is a Snapshot with Exists false and no error.
func TakeSnapshot(path string) (Snapshot, error) {
	data, err := readAtMost(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Snapshot{}, nil
	}
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Exists: true, Sum: sha256.Sum256(data)}, nil
}

// readAtMost reads the whole settings file at path, which must be a
// regular file of at most MaxFileSize bytes, without ever waiting on a
// pipe.
func readAtMost(path string) ([]byte, error) {
	f, _, err := regular.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One byte past the limit: the file may have grown since it was opened.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes, too large for a settings file", path, MaxFileSize)
	}
	return data, nil
}

// ErrChanged means the settings file is not what the caller last read.
var ErrChanged = errors.New("the settings file changed on disk since ocm-tray read it")

// SetModelID makes model_id = id in the settings file at path, keeping
// every other byte, provided the file is still what read identifies and
// is valid. id must be a plain file name without .gguf.
func SetModelID(path, id string, read Snapshot) error {
	if msg := checkModelID(id); msg != "" {
		return fmt.Errorf("model %s", msg)
	}
	data, err := readAtMost(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("there is no settings file at %s: run `ocm-tray init` to write one, then choose the model again", path)
	case err != nil:
		return fmt.Errorf("cannot read the settings file: %w", err)
	}
	if cur := (Snapshot{Exists: true, Sum: sha256.Sum256(data)}); cur != read {
		return fmt.Errorf("%s: %w; it is being reloaded, try again", path, ErrChanged)
	}
	before, problems := Parse(path, data)
	if HasErrors(problems) {
		for _, p := range problems {
			if !p.Warning {
				return fmt.Errorf("the settings file has errors, so it is left as it is: %s (ocm-tray check lists every problem)", p)
			}
		}
	}
	out, err := withModelID(data, id)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(out, data) {
		return nil
	}
	// The edit is a text edit: prove it changed model_id and nothing else
	// (a look-alike line inside a multi-line string must not be taken for
	// the key's place), or write nothing.
	after, problems := Parse(path, out)
	before.ModelID = id
	if HasErrors(problems) || !reflect.DeepEqual(before, after) {
		return fmt.Errorf("%s: ocm-tray could not set model_id without touching anything else; set model_id = %q in the file by hand", path, id)
	}
	return replaceFile(path, out, read)
}

// withModelID returns data with the top-level model_id set to id: its
// value replaced where the key exists, else a line added (after a
// commented-out model_id, else after the last top-level key, else at the
// top), in the file's own line ending.
func withModelID(data []byte, id string) ([]byte, error) {
	bom := 0
	if bytes.HasPrefix(data, []byte("\ufeff")) {
		bom = len("\ufeff")
	}
	doc := data[bom:]
	var p unstable.Parser
	p.Reset(doc)
	lastKVEnd, firstTable := -1, len(doc)
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			if firstTable == len(doc) {
				it := e.Key()
				if it.Next() {
					firstTable = lineStart(doc, int(it.Node().Raw.Offset))
				}
			}
		case unstable.KeyValue:
			if firstTable < len(doc) {
				continue // inside a table: not a top-level key
			}
			lastKVEnd = int(e.Raw.Offset + e.Raw.Length)
			it := e.Key()
			var key []string
			for it.Next() {
				key = append(key, string(it.Node().Data))
			}
			if len(key) != 1 || key[0] != "model_id" {
				continue
			}
			v := e.Value()
			if v.Kind != unstable.String {
				return nil, errors.New("model_id is not a string")
			}
			at, end := bom+int(v.Raw.Offset), bom+int(v.Raw.Offset+v.Raw.Length)
			return splice(data, at, end, tomlString(id)), nil
		}
	}
	if err := p.Error(); err != nil {
		return nil, fmt.Errorf("cannot find model_id: %w", err)
	}

	eol := "\n"
	if i := bytes.IndexByte(doc, '\n'); i > 0 && doc[i-1] == '\r' {
		eol = "\r\n"
	}
	line := "model_id = " + tomlString(id) + eol
	at := 0
	if loc := commentedModelID.FindIndex(doc[:firstTable]); loc != nil {
		at = loc[1]
	} else if lastKVEnd >= 0 {
		at = lineEnd(doc, lastKVEnd)
	}
	if at == len(doc) && len(doc) > 0 && doc[len(doc)-1] != '\n' {
		line = eol + line // the file ends without a newline
	}
	return splice(data, bom+at, bom+at, line), nil
}

// commentedModelID finds a commented-out model_id line (the template's)
// with its line end.
var commentedModelID = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*model_id[ \t]*=.*(\r?\n|$)`)

func splice(data []byte, at, end int, s string) []byte {
	out := make([]byte, 0, len(data)-(end-at)+len(s))
	out = append(out, data[:at]...)
	out = append(out, s...)
	return append(out, data[end:]...)
}

// lineStart is the offset of the start of the line holding offset i.
func lineStart(doc []byte, i int) int {
	return bytes.LastIndexByte(doc[:i], '\n') + 1
}

// lineEnd is the offset just past the newline ending the line that holds
// offset i (past a trailing comment too), or the end of doc.
func lineEnd(doc []byte, i int) int {
	if j := bytes.IndexByte(doc[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(doc)
}

// replaceFile writes data over the file at path through a temporary file
// in the same folder and a rename, keeping the file's mode. A symlink is
// followed, so its target is replaced and the link stays. Right before the
// rename the file is checked to still be what read identifies: an edit
// saved meanwhile is never overwritten.
func replaceFile(path string, data []byte, read Snapshot) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("settings file: %w", err)
	}
	fi, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("settings file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return fmt.Errorf("cannot write next to the settings file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.Remove(tmp.Name())
		}
	}()
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	merr := tmp.Chmod(fi.Mode().Perm())
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, merr, cerr); err != nil {
		return fmt.Errorf("cannot write the settings file: %w", err)
	}
	if now, err := TakeSnapshot(target); err != nil || now != read {
		return fmt.Errorf("%s: %w; it is being reloaded, try again", path, ErrChanged)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("cannot replace the settings file: %w", err)
	}
	done = true
	syncDir(filepath.Dir(target))
	return nil
}

// syncDir makes a rename in dir durable where the system allows; failing
// that, the rename is still atomic, only maybe not yet on disk.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
