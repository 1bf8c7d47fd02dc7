//go:build !linux

package s3test

import "os/exec"

// setProcAttr does nothing: only Linux has a parent-death signal.
func setProcAttr(*exec.Cmd) {}
