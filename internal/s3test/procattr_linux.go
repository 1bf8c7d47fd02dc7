package s3test

import (
	"os/exec"
	"syscall"
)

// setProcAttr has the kernel kill versitygw when the test process dies
// without its cleanups (a test timeout, a SIGKILL), so that no server is
// left listening. (The signal follows the OS thread that started the
// process, and Go ends a thread only when a goroutine exits locked to it,
// which these tests never do.)
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
