package supervisor

import (
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/oserr"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// separator is the line written to llama-server's log before a child's
// output, so one run is told from the next: when, which pid, which argv.
func separator(at time.Time, pid int, path string, args []string) string {
	return fmt.Sprintf("--- %s ocm-tray started llama-server, pid %d: %s\n", at.Format(time.RFC3339), pid, commandLine(path, args))
}

// secretFlags are llama-server flags whose value is a secret. The log is
// for reading and for pasting into bug reports: their values are hidden.
var secretFlags = []string{"--api-key", "--hf-token"}

// shellSafe matches a word a shell takes as it is.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// commandLine is argv as it would be typed in a shell: each word quoted
// where it needs to be, secrets replaced by REDACTED.
func commandLine(path string, args []string) string {
	words := []string{quoteWord(path)}
	hideNext := false
	for _, a := range args {
		if hideNext {
			a, hideNext = "REDACTED", false
		}
		for _, f := range secretFlags {
			if a == f {
				hideNext = true
			} else if strings.HasPrefix(a, f+"=") {
				a = f + "=REDACTED"
			}
		}
		words = append(words, quoteWord(a))
	}
	return strings.Join(words, " ")
}

func quoteWord(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// startErr is a failed start, said in one sentence.
type startErr struct {
	msg string
	err error
}

func (e *startErr) Error() string { return e.msg }
func (e *startErr) Unwrap() error { return e.err }

// startError turns exec's "fork/exec PATH: errno" into a sentence that
// names the program once and, where there is one, the fix.
func startError(path string, err error) error {
	cause := oserr.Cause(err)
	why := cause.Error()
	switch {
	case errors.Is(cause, fs.ErrNotExist):
		why = "no such file"
	case errors.Is(cause, fs.ErrPermission):
		why = "permission denied"
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 == 0 {
			why = "it is not executable (chmod +x it)"
		}
	case errors.Is(cause, syscall.ENOEXEC):
		why = "it is not a program this system can run (exec format error)"
	}
	return &startErr{msg: fmt.Sprintf("cannot start %s: %s", path, why), err: err}
}
