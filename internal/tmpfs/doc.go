// Package tmpfs gives tests a small file system of their own to fill up: a
// tmpfs the test mounts (as root; otherwise the test is skipped) and
// unmounts when it ends. Only tests import it.
package tmpfs
