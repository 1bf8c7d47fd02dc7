package main

import (
	"testing"

	"github.com/strmlocal/strmlocal/keys"
)

// keys new-master-key prints, without a server, a key that
// STRMLOCAL_MASTER_KEY takes; a new one each time.
func TestNewMasterKey(t *testing.T) {
	c := &cli{t: t, server: "http://127.0.0.1:1", config: t.TempDir()}
	code, out, errOut := c.run("keys", "new-master-key")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if _, err := keys.LoadMaster("", out); err != nil {
		t.Fatalf("LoadMaster of the printed key: %v", err)
	}
	if _, again, _ := c.run("keys", "new-master-key"); again == out {
		t.Fatal("two runs printed the same key")
	}
}
