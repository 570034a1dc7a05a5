package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/logfile"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
)

func TestTailOffset(t *testing.T) {
	for _, tc := range []struct {
		data  string
		n     int
		want  string
		lines int
	}{
		{"", 5, "", 0},
		{"a\nb\nc\n", 0, "", 0},
		{"a\nb\nc\n", 2, "b\nc\n", 2},
		{"a\nb\nc\n", 3, "a\nb\nc\n", 3},
		{"a\nb\nc\n", 9, "a\nb\nc\n", 3},
		{"a\nb\nc", 1, "c", 1}, // a last line still being written
		{"a\nb\nc", 2, "b\nc", 2},
		{"\n", 1, "\n", 1},
		{"\n\n\n", 2, "\n\n", 2},
		{"one line, no newline", 3, "one line, no newline", 1},
	} {
		r := strings.NewReader(tc.data)
		off, lines, err := tailOffset(r, int64(len(tc.data)), tc.n)
		if err != nil || tc.data[off:] != tc.want || lines != tc.lines {
			t.Errorf("tailOffset(%q, %d) = %q, %d lines, %v; want %q, %d", tc.data, tc.n, tc.data[off:], lines, err, tc.want, tc.lines)
		}
	}
	// Across block boundaries.
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "line %05d\n", i)
	}
	data := b.String()
	off, lines, err := tailOffset(strings.NewReader(data), int64(len(data)), 12345)
	if err != nil || lines != 12345 || !strings.HasPrefix(data[off:], "line 07655\n") {
		t.Fatalf("tail 12345 of 20000: lines %d, starts %q, %v", lines, data[off:off+11], err)
	}
}

// countingReaderAt counts the bytes read.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// A huge file: the last lines are found by reading its end only.
func TestTailReadsFromTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const hole = 8 << 30 // a sparse 8 GiB: no disk used, ruinous to read
	if err := f.Truncate(hole); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("\nsecond to last\nlast\n"), hole); err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	cr := &countingReaderAt{r: f}
	off, lines, err := tailOffset(cr, fi.Size(), 2)
	if err != nil || lines != 2 || off != hole+1 {
		t.Fatalf("tailOffset = %d, %d, %v; want %d, 2", off, lines, err, hole+1)
	}
	if n := cr.n.Load(); n > tailBlock+1 {
		t.Fatalf("read %d bytes to find the last 2 lines, want at most %d", n, tailBlock+1)
	}
}

// A huge line costs no memory: it is found and printed a block at a time.
func TestTailHugeLineBoundedMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llama-server.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const line = 64 << 20 // one 64 MiB line (sparse: zero bytes, no newline)
	if _, err := f.WriteString("first\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(6 + line); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("\n"), 6+line); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var out countingWriter
	fl := &follower{path: path, out: &out}
	defer fl.close()
	alloc := testenv.Allocated(func() { err = fl.tail(1) })
	if err != nil {
		t.Fatal(err)
	}
	if out.n != line+1 {
		t.Fatalf("printed %d bytes, want the last line's %d", out.n, line+1)
	}
	if alloc > 1<<20 {
		t.Fatalf("allocated %d bytes to print a %d-byte line; want under 1 MiB", alloc, line)
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func TestTailIncludesTheRotatedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "llama-server.log")
	os.WriteFile(path+".1", []byte("old 1\nold 2\nold 3\n"), 0o600)
	os.WriteFile(path, []byte("new 1\nnew 2\n"), 0o600)
	for _, tc := range []struct {
		n    int
		want string
	}{
		{1, "new 2\n"},
		{2, "new 1\nnew 2\n"},
		{4, "old 2\nold 3\nnew 1\nnew 2\n"},
		{50, "old 1\nold 2\nold 3\nnew 1\nnew 2\n"},
	} {
		var out strings.Builder
		fl := &follower{path: path, out: &out}
		if err := fl.tail(tc.n); err != nil {
			t.Fatal(err)
		}
		fl.close()
		if out.String() != tc.want {
			t.Errorf("tail(%d) = %q, want %q", tc.n, out.String(), tc.want)
		}
	}
	var out strings.Builder
	fl := &follower{path: filepath.Join(dir, "missing.log"), out: &out}
	if err := fl.tail(5); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("tail of a missing file: %v", err)
	}
}

// The log is written by the agent's own rotating writer, many generations
// over; following it prints every line once, in order.
func TestFollowAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "llama-server.log")
	lf, err := logfile.Open(path, 200) // a rotation every seven lines
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	lf.Write([]byte("before\n"))

	out := &testproc.Output{}
	fl := &follower{path: path, out: out}
	defer fl.close()
	if err := fl.tail(1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.follow(ctx) }()

	want := "before\n"
	for i := range 50 {
		line := fmt.Sprintf("line %02d %s\n", i, strings.Repeat("x", 20))
		if _, err := lf.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		want += line
		testenv.Eventually(t, "line "+fmt.Sprint(i), func() bool { return out.String() == want })
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("the log never rotated: %v", err)
	}
	cancel()
	if err := testenv.Recv(t, done, "follow to return after its context ended"); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Fatalf("printed\n%s\nwant\n%s", out, want)
	}
}

// Two rotations between two looks: the generation in between, already
// renamed to NAME.1, is printed too, and the rest of the first one.
func TestFollowStepCatchesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llama-server.log")
	lf, err := logfile.Open(path, 7) // "A1\nA2\n" fits; a third line rotates
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	var out strings.Builder
	fl := &follower{path: path, out: &out}
	defer fl.close()
	write := func(s string) {
		t.Helper()
		if _, err := lf.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write("A1\n")
	if err := fl.step(); err != nil || out.String() != "A1\n" {
		t.Fatalf("first step: %q, %v", out.String(), err)
	}
	write("A2\n")
	write("B1\n") // rotation: A's file is now NAME.1
	write("B2\n")
	write("C1\n") // rotation: B's file is NAME.1, A's is gone but still open here
	if err := fl.step(); err != nil {
		t.Fatal(err)
	}
	if want := "A1\nA2\nB1\nB2\nC1\n"; out.String() != want {
		t.Fatalf("after two rotations: %q, want %q", out.String(), want)
	}
	// Nothing new: nothing printed twice.
	if err := fl.step(); err != nil || out.String() != "A1\nA2\nB1\nB2\nC1\n" {
		t.Fatalf("idle step: %q, %v", out.String(), err)
	}
}

func TestFollowTruncatedAndLateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llama-server.log")
	var out strings.Builder
	fl := &follower{path: path, out: &out}
	defer fl.close()
	if err := fl.step(); err != nil || out.Len() != 0 { // no file yet
		t.Fatalf("step without a file: %q, %v", out.String(), err)
	}
	os.WriteFile(path, []byte("one\ntwo\n"), 0o600)
	if err := fl.step(); err != nil || out.String() != "one\ntwo\n" {
		t.Fatalf("late file: %q, %v", out.String(), err)
	}
	// Truncated in place (copytruncate): read again from the start.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("3\n")
	f.Close()
	if err := fl.step(); err != nil || out.String() != "one\ntwo\n3\n" {
		t.Fatalf("after truncation: %q, %v", out.String(), err)
	}
}
