package logfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"
)

func TestRotatesAtTheCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "x.log")
	f, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("a"), 39)
	line = append(line, '\n') // 40 bytes
	for i := 0; i < 5; i++ {  // 200 bytes through a 100-byte cap
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if len(cur) != 40 || len(old) != 80 {
		t.Fatalf("current %d bytes, previous %d bytes; want 40 and 80", len(cur), len(old))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if _, err := f.Write(line); err == nil {
		t.Fatal("write after Close succeeded")
	}
}

// Reopening appends and counts what is already there toward the cap.
func TestReopenCountsExistingSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	os.WriteFile(path, bytes.Repeat([]byte("b"), 90), 0o600)
	f, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("0123456789abcdef"))
	f.Close()
	if old, _ := os.ReadFile(path + ".1"); len(old) != 90 {
		t.Fatalf("existing content not rotated: %d bytes", len(old))
	}
}

// The folder removed while the log is open (a cleaner, a user tidying up):
// the log comes back with it at the next rotation.
func TestFolderRemovedComesBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "x.log")
	f, err := Open(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte("first line\n"))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("second\n")) // past the cap: rotates, and reopens
	if got, err := os.ReadFile(path); err != nil || string(got) != "second\n" {
		t.Fatalf("log %q, %v", got, err)
	}
}

// A log deleted while writes still work is noticed within checkEvery: the
// lines after it land in a new file at the path, not in the deleted one.
func TestDeletedLogIsNoticed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.log")
		f, err := Open(path, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.Write([]byte("one\n"))
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(checkEvery) // fake time: the next write checks the path
		f.Write([]byte("two\n"))
		if got, err := os.ReadFile(path); err != nil || string(got) != "two\n" {
			t.Fatalf("log %q, %v", got, err)
		}
	})
}
