package pgtest

import (
	"os/exec"
	"syscall"
)

// setProcAttr runs cmd as owner (when not nil) and has the kernel kill it
// when the test process dies without its cleanups (a test timeout, a
// SIGKILL, a TestMain that never called StopShared): a killed postmaster's
// backends notice and exit, so that no server is left listening. (The
// signal follows the OS thread that started the process, and Go ends a
// thread only when a goroutine exits locked to it, which these tests never
// do. The kernel clears the signal on a change of credentials, but Go sets
// it after switching to owner.)
func setProcAttr(cmd *exec.Cmd, owner *osUser) {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if owner != nil {
		attr.Credential = &syscall.Credential{Uid: owner.uid, Gid: owner.gid, Groups: []uint32{}}
	}
	cmd.SysProcAttr = attr
}

// canSwitchUser says whether setProcAttr can run a process as another user.
const canSwitchUser = true
