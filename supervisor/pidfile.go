package supervisor

import (
	"errors"
	"fmt"
	"github.com/OpenCircuitDev/ocm-tray/internal/oserr"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The pid file holds the child's pid, the binary it runs and, on a third
// line, when it started (processStarted), so a later agent can tell our
// llama-server from a process that reused the pid, even one running the
// same binary.

func (r *runner) writePIDFile(pid int) {
	if r.cfg.PIDFile == "" {
		return
	}
	data := fmt.Sprintf("%d\n%s\n", pid, r.cfg.Command.Path)
	if started := processStarted(pid); started != 0 {
		data += strconv.FormatUint(started, 10) + "\n"
	}
	tmp := r.cfg.PIDFile + ".tmp"
	err := os.WriteFile(tmp, []byte(data), 0o600)
	if err == nil {
		err = os.Rename(tmp, r.cfg.PIDFile)
	}
	if err != nil {
		os.Remove(tmp)
		r.s.log.Warn(pidFileProblem(r.cfg.PIDFile, err))
	}
}

// pidFileProblem says in one sentence why the pid file could not be
// written and what that costs.
func pidFileProblem(path string, err error) string {
	why := oserr.Cause(err)
	if errors.Is(why, fs.ErrNotExist) {
		return fmt.Sprintf("cannot write the pid file %s: its folder %s does not exist (it was removed after the agent started): a llama-server left behind by a killed agent will not be stopped by the next one", path, filepath.Dir(path))
	}
	return fmt.Sprintf("cannot write the pid file %s (%v): a llama-server left behind by a killed agent will not be stopped by the next one", path, why)
}

func (r *runner) removePIDFile() {
	if r.cfg.PIDFile != "" {
		os.Remove(r.cfg.PIDFile)
	}
}

// readPIDFile returns the pid, binary and start time (0 if absent)
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
