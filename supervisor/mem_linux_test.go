package supervisor

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// A router's model servers are its children: their memory counts too.
func TestMemReaderCountsDescendants(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 60 & sleep 60 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	pid := cmd.Process.Pid
	var kids []int
	testenv.Eventually(t, "the shell to fork its two children", func() bool { // polling another process
		kids = descendants(pid, maxMembers)
		return len(kids) >= 2
	})
	own, ok := statmRSS(pid)
	if !ok || own == 0 {
		t.Fatalf("own rss %d, %v", own, ok)
	}
	m := newMemReader(pid)
	total := m.read()
	var theirs uint64
	for _, k := range kids {
		rss, _ := statmRSS(k)
		theirs += rss
	}
	// Pages come and go between two readings; the children's share must be in.
	if total < own+theirs/2 || !slices.Equal(m.members, kids) {
		t.Fatalf("total %d (own %d, children %d), members %v, children %v", total, own, theirs, m.members, kids)
	}
	// A member that exits is dropped at the next reading.
	syscall.Kill(kids[0], syscall.SIGKILL)
	testenv.Eventually(t, "the exited member to be dropped", func() bool {
		m.read()
		return !slices.Contains(m.members, kids[0])
	})
	if newMemReader(os.Getpid()+1<<22).read() != 0 {
		t.Fatal("a process that does not exist has memory")
	}
}
