package logfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// A full disk: writes are dropped and counted, never failed (a writer that
// stops at the first error would stop draining the server's pipe), and the
// log resumes with a note of the loss once there is room.
func TestFullDiskDropsThenResumes(t *testing.T) {
	dir := testenv.MountTmpfs(t, "64k")
	path := filepath.Join(dir, "x.log")
	f, err := Open(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var troubles []Trouble
	f.OnTrouble(func(tr Trouble) { troubles = append(troubles, tr) })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 40<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 99) + "\n")
	for i := 0; i < 1000; i++ { // 100 KB into the 24 KB left
		if n, err := f.Write(line); err != nil || n != len(line) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	if err := os.Remove(filler); err != nil { // room again
		t.Fatal(err)
	}
	f.Write([]byte("after\n"))
	got, _ := os.ReadFile(path)
	// Whole lines up to the loss (the last may be cut short), then the note
	// on a line of its own.
	m := regexp.MustCompile(`^(x{99}\n)+x*\n?ocm-tray: (\d+) lines lost here \(.*no space left on device\)\nafter\n$`).FindSubmatch(got)
	if m == nil {
		t.Fatalf("after freeing room the log holds %q", got)
	}
	// Said twice: when it started (with why), when it ended (with how many).
	if len(troubles) != 2 || !errors.Is(troubles[0].Err, syscall.ENOSPC) || troubles[1].Err != nil || fmt.Sprint(troubles[1].Lost) != string(m[2]) {
		t.Fatalf("troubles %+v; the log says %s lost", troubles, m[2])
	}
}

// makeReadOnly makes dir refuse new entries until the returned func runs:
// chmod for an ordinary user; for root, whom chmod does not stop, a
// read-only bind mount over it, or (without mount rights) a file in its
// place.
func makeReadOnly(t *testing.T, dir string) (restore func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		return func() { os.Chmod(dir, 0o700) }
	}
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err == nil {
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			syscall.Unmount(dir, 0)
			t.Fatal(err)
		}
		return func() { syscall.Unmount(dir, 0) }
	}
	away := dir + ".away"
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() { os.Remove(dir); os.Rename(away, dir) }
}

// A rotation that fails once (the folder briefly read-only): lines are
// dropped meanwhile, never failed, and the next write after the folder
// is writable again rotates and resumes.
func TestRotationFailureResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "x.log")
	f, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var troubles []Trouble
	f.OnTrouble(func(tr Trouble) { troubles = append(troubles, tr) })
	line := []byte(strings.Repeat("a", 39) + "\n")
	f.Write(line)
	f.Write(line) // 80 bytes: the next line needs a rotation
	restore := makeReadOnly(t, dir)
	for i := 0; i < 3; i++ {
		if n, err := f.Write(line); err != nil || n != len(line) {
			restore()
			t.Fatalf("write during the failed rotation: %d, %v", n, err)
		}
	}
	restore()
	if _, err := f.Write([]byte("back\n")); err != nil {
		t.Fatal(err)
	}
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if !regexp.MustCompile(`^ocm-tray: 3 lines lost here \(rotate log: .*\)\nback\n$`).Match(cur) || len(old) != 80 {
		t.Fatalf("after the failed rotation: current %q, previous %d bytes", cur, len(old))
	}
	if len(troubles) != 2 || troubles[0].Err == nil || troubles[1] != (Trouble{Lost: 3}) {
		t.Fatalf("troubles %+v", troubles)
	}
}

// The disk is full; deleting the log to free it must free it: the log
// lets go of the deleted file at the failed write, and the next write
// makes a new one.
func TestDeletingAFullLogFreesTheDisk(t *testing.T) {
	dir := testenv.MountTmpfs(t, "64k")
	path := filepath.Join(dir, "x.log")
	f, err := Open(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range 1000 { // 100 KB into 64 KB
		f.Write(line)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("after\n"))
	got, err := os.ReadFile(path)
	if err != nil || !regexp.MustCompile(`^ocm-tray: \d+ lines lost here \(.*\)\nafter\n$`).Match(got) {
		t.Fatalf("after deleting the full log it holds %q, %v", got, err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if free := st.Bavail * uint64(st.Bsize); free < 32<<10 {
		t.Fatalf("only %d bytes free: the deleted log is still held open", free)
	}
}

// A FIFO at the log's path neither blocks Open (the supervisor's loop
// calls it) nor receives the log.
func TestFIFOAtThePathNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := Open(path, 0)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Open took a FIFO as the log")
		}
	case <-time.After(testenv.WaitLimit):
		t.Fatal("Open blocked on a FIFO")
	}
}
