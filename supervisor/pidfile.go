package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The pid file holds the child's pid and the binary it runs, so a later
// agent can tell our llama-server from an unrelated process that reused the
// pid; where the system tells (Windows), a third line holds the process's
// creation time, which a reused pid does not share.

func (r *runner) writePIDFile(pid int) {
	if r.cfg.PIDFile == "" {
		return
	}
	data := fmt.Sprintf("%d\n%s\n", pid, r.cfg.Command.Path)
	if started := processStarted(pid); started != 0 {
		data += strconv.FormatUint(started, 10) + "\n"
	}
	tmp := r.cfg.PIDFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		r.s.log.Warn("cannot write pid file", "path", r.cfg.PIDFile, "err", err)
		return
	}
	if err := os.Rename(tmp, r.cfg.PIDFile); err != nil {
		r.s.log.Warn("cannot write pid file", "path", r.cfg.PIDFile, "err", err)
	}
}

func (r *runner) removePIDFile() {
	if r.cfg.PIDFile != "" {
		os.Remove(r.cfg.PIDFile)
	}
}

// readPIDFile returns the pid, binary and creation time (0 if absent)
// recorded in path.
func readPIDFile(path string) (pid int, binary string, started uint64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", 0, err
	}
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", 3)
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, "", 0, fmt.Errorf("pid file %s: bad pid %q", path, lines[0])
	}
	if len(lines) >= 2 {
		binary = filepath.Clean(strings.TrimSpace(lines[1]))
	}
	if len(lines) == 3 {
		// Unreadable counts as absent: the check that needs it then fails.
		started, _ = strconv.ParseUint(strings.TrimSpace(lines[2]), 10, 64)
	}
	return pid, binary, started, nil
}
