package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The pid file holds two lines: the child's pid and the binary it runs, so a
// later agent can tell our llama-server from an unrelated process that
// reused the pid.

func (r *runner) writePIDFile(pid int) {
	if r.cfg.PIDFile == "" {
		return
	}
	data := fmt.Sprintf("%d\n%s\n", pid, r.cfg.Command.Path)
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

// readPIDFile returns the pid and binary recorded in path.
func readPIDFile(path string) (pid int, binary string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", err
	}
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, "", fmt.Errorf("pid file %s: bad pid %q", path, lines[0])
	}
	if len(lines) == 2 {
		binary = filepath.Clean(strings.TrimSpace(lines[1]))
	}
	return pid, binary, nil
}
