//go:build !linux

package pgtest

import "os/exec"

// setProcAttr does nothing: only Linux has a parent-death signal, and
// pgtest switches users only on Linux.
func setProcAttr(*exec.Cmd, *osUser) {}

// canSwitchUser says whether setProcAttr can run a process as another user.
const canSwitchUser = false
