package oserr

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCause(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	_, err := os.Open(missing)
	if c := Cause(err); c.Error() != "no such file or directory" || !errors.Is(c, fs.ErrNotExist) {
		t.Fatalf("open: %v", c)
	}
	err = os.Rename(missing, missing+".1")
	if c := Cause(err); !errors.Is(c, fs.ErrNotExist) || c.Error() != "no such file or directory" {
		t.Fatalf("rename: %v", c)
	}
	plain := errors.New("plain")
	if Cause(plain) != plain {
		t.Fatal("a plain error changed")
	}
}
