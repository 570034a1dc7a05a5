//go:build unix

package regular

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestOpenRefusesAFIFOWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Nobody holds the other end: a blocking open would wait forever.
	var nr *NotRegularError
	if _, _, err := Open(fifo); !errors.As(err, &nr) || nr.Path != fifo {
		t.Fatalf("Open(FIFO) = %v, want NotRegularError", err)
	}
	// For writing, the kernel refuses at once (ENXIO) rather than wait.
	if _, _, err := OpenFile(fifo, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		t.Fatal("OpenFile(FIFO, write) succeeded")
	}
	if _, _, err := Open(dir); !errors.As(err, &nr) || Kind(nr.Mode) != "a directory" {
		t.Fatalf("Open(dir) = %v", err)
	}
	reg := filepath.Join(dir, "f")
	if err := os.WriteFile(reg, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(reg, link); err != nil {
		t.Fatal(err)
	}
	f, fi, err := Open(link)
	if err != nil || fi.Size() != 1 {
		t.Fatalf("Open(link to a file) = %v, %v", fi, err)
	}
	f.Close()
}
