//go:build !unix

package supervisor

import "os/exec"

// startChild starts cmd and puts it in its group (contain), which ends it
// with the agent.
func startChild(cmd *exec.Cmd) (*group, error) {
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g, err := contain(cmd)
	if err != nil {
		// Could not contain the child: do not keep an uncontained server
		// around.
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	return g, nil
}
