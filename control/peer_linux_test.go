package control

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/internal/testproc"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// A socket served by another user is refused, even where the directory
// checks cannot see it (here root moved it into a private directory of
// ours): the kernel says who listens, and the client believes only that.
func TestDialRefusesAnotherUsersSocket(t *testing.T) {
	testenv.NeedRoot(t)
	theirs := startImpostor(t)

	// Reached where it listens, it is refused.
	_, err := Dial(theirs)
	want := fmt.Sprintf("is served by uid %d, not by you (uid %d)", testenv.OtherUID, os.Getuid())
	if err == nil || !strings.Contains(err.Error(), want) || errors.Is(err, ErrNoAgent) {
		t.Fatalf("Dial(another user's socket) = %v, want an error saying %q", err, want)
	}

	// Reached through a private directory of ours, too.
	ours := filepath.Join(testenv.ShortTempDir(t), "ocm-tray.sock")
	if err := os.Link(theirs, ours); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(ours); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Dial(another user's socket in our directory) = %v, want %q", err, want)
	}

	// Our own agent's socket is accepted: the check is not a blanket refusal.
	ts := startServer(t, newFakeAgent(status.Status{State: status.Stopped}).source(), nil)
	if _, err := dialT(t, ts.path).Status(ctxT(t)); err != nil {
		t.Fatalf("our own socket: %v", err)
	}
}

// startImpostor runs the test binary, as another user, listening on a
// socket in a directory of that user, and returns the socket's path.
func startImpostor(t *testing.T) string {
	t.Helper()
	// The binary must be reachable by the other user: the build directory
	// is private to us.
	binDir := testenv.ShortTempDir(t)
	if err := os.Chmod(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "impostor")
	copyFile(t, testproc.Path(), bin, 0o755)

	dir := testenv.ShortTempDir(t)
	if err := os.Chown(dir, testenv.OtherUID, testenv.OtherGID); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "their.sock")
	cmd := exec.Command(bin)
	cmd.Env = append(testproc.Env(impostorChild), impostorSocketEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: testenv.OtherUID, Gid: testenv.OtherGID}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := testproc.Start(t, cmd)
	t.Cleanup(func() { stdin.Close() }) // the impostor's cue to exit; runs before Start's stop
	testenv.Eventually(t, "the impostor to listen", func() bool {
		if p.Exited() {
			t.Fatalf("impostor did not start: %v; stderr %s", p.Cmd.ProcessState, p.Stderr)
		}
		return p.Stdout.String() == "listening\n"
	})
	return path
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
