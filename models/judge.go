package models

import (
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/oserr"
	"io/fs"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/regular"
)

// SettleTime is how long a model file must go unmodified before it is
// judged: a download that writes straight to the final name touches the
// file many times a second, so a file changed within this window is taken
// to be still growing, and llama-server is not started on it.
const SettleTime = 2 * time.Second

// Problem is what is wrong with a model file, if anything.
type Problem int

// The problems JudgeFile finds.
const (
	// Sound: nothing found wrong (which is not proof that llama-server
	// can load it: an architecture it does not know shows only then).
	Sound Problem = iota
	// NotRegular: a directory, a pipe, a device: nothing to load.
	NotRegular
	// Unreadable: it cannot be opened or read (Detail says why).
	Unreadable
	// Writing: modified within SettleTime; look again after Settle.
	Writing
	// NotGGUF: it does not start with the GGUF magic (or is empty).
	NotGGUF
	// Incomplete: shorter than its header says (Want); Want is 0 when the
	// file ends inside the header itself.
	Incomplete
	// Damaged: a header llama.cpp would not read (Detail says what).
	Damaged
)

// Verdict is what JudgeFile found.
type Verdict struct {
	Problem Problem
	Size    int64         // bytes on disk
	Want    int64         // Incomplete: the size the header asks for
	Settle  time.Duration // Writing: when the file may have settled
	Detail  string        // Unreadable, Damaged: what; Sound: what could not be judged
	Mode    fs.FileMode   // NotRegular: what it is

	// Header is the file's header when it could be read.
	Header    Header
	HasHeader bool
}

// JudgeFile looks at one model file as llama-server would load it: a
// regular file, not being written (modified within SettleTime of now), a
// GGUF file, and as long as its header says. It opens the file without
// blocking (a named pipe at the path must not hang the agent) and reads
// only the header.
func JudgeFile(path string, now time.Time) Verdict {
	f, fi, err := regular.Open(path)
	var nr *regular.NotRegularError
	switch {
	case errors.As(err, &nr):
		return Verdict{Problem: NotRegular, Mode: nr.Mode}
	case err != nil:
		return Verdict{Problem: Unreadable, Detail: errText(err)}
	}
	defer f.Close()
	v := Verdict{Size: fi.Size()}
	// A clock set back, or a file from a machine whose clock runs ahead,
	// gives a modification time in the future; more than SettleTime ahead
	// is not a download in progress and is judged at once.
	if age := now.Sub(fi.ModTime()); age < SettleTime && age > -SettleTime {
		v.Problem, v.Settle = Writing, SettleTime-max(age, 0)
		return v
	}
	h, err := ReadHeader(f, v.Size)
	var short *ShortError
	var damaged *DamagedError
	var unsupported *UnsupportedError
	switch {
	case err == nil:
		v.Header, v.HasHeader = h, true
		if h.DataEnd == 0 {
			v.Detail = "a tensor type this ocm-tray does not know: completeness not checked"
		} else if v.Size < h.DataEnd {
			v.Problem, v.Want = Incomplete, h.DataEnd
		}
	case errors.Is(err, ErrNotGGUF):
		v.Problem = NotGGUF
	case errors.As(err, &short):
		v.Problem = Incomplete
	case errors.As(err, &damaged):
		v.Problem, v.Detail = Damaged, damaged.Error()
	case errors.As(err, &unsupported):
		v.Detail = unsupported.Msg + ": not checked"
	default:
		v.Problem, v.Detail = Unreadable, errText(err)
	}
	return v
}

// errText is an error's message without the path the os package put in
// front of it (the caller names the file itself).
func errText(err error) string { return oserr.Cause(err).Error() }

// Bytes writes a size the way a person reads it: "850 bytes", "12.3 kB",
// "1.2 GB" (decimal units, as disks and downloads count).
func Bytes(n int64) string {
	u, div := unit(n)
	if div == 1 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f %s", float64(n)/float64(div), u)
}

// BytesOf writes "part of whole" in the unit of whole: "1.2 of 4.7 GB".
// Digits are added until the two differ, so a file a few bytes short never
// reads "4.7 of 4.7 GB".
func BytesOf(part, whole int64) string {
	u, div := unit(whole)
	if div > 1 {
		for prec := 1; prec <= 3; prec++ {
			p := fmt.Sprintf("%.*f", prec, float64(part)/float64(div))
			w := fmt.Sprintf("%.*f", prec, float64(whole)/float64(div))
			if p != w || part == whole {
				return p + " of " + w + " " + u
			}
		}
	}
	return fmt.Sprintf("%d of %d bytes", part, whole)
}

func unit(n int64) (string, int64) {
	switch {
	case n >= 1e12:
		return "TB", 1e12
	case n >= 1e9:
		return "GB", 1e9
	case n >= 1e6:
		return "MB", 1e6
	case n >= 1e3:
		return "kB", 1e3
	}
	return "bytes", 1
}
