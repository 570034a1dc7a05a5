package agent

import (
	"os/exec"
	"runtime"
)

// openPath asks the desktop to open path (a file in the user's editor, a
// folder in the file manager). The opener is started, not waited for, and
// reaped in the background so it leaves no zombie.
func openPath(path string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", path)
	case "windows":
		cmd = exec.Command("explorer", path)
	default:
		cmd = exec.Command("xdg-open", path)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
