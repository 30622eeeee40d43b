package clienttest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd when the test binary ends, also
// when it ends without cleaning up (a panic, a timeout).
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
