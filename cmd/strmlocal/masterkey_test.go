package main

import (
	"path/filepath"
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

// serve takes the master key from a file too, but not from both places,
// and says which file it cannot read.
func TestServeMasterKeyFile(t *testing.T) {
	c := &cli{t: t, server: "http://127.0.0.1:1", config: t.TempDir()}
	missing := filepath.Join(t.TempDir(), "missing.json")
	c.expect("serve --ephemeral --master-key-file "+missing, 1, "",
		"strmlocal: --master-key-file: open "+missing+": no such file or directory\n")
	c.env = map[string]string{"STRMLOCAL_MASTER_KEY": "x"}
	c.expect("serve --ephemeral --master-key-file "+missing, 1, "",
		"strmlocal: --master-key-file and STRMLOCAL_MASTER_KEY both give the master key: keep one\n")
	c.env = nil
	c.expect("serve --log kafka --kafka-brokers 127.0.0.1:1", 1, "",
		"strmlocal: --log kafka needs --kafka-brokers HOST:PORT and --state postgres://…\n")
	c.expect("serve --state postgres://127.0.0.1:1/x", 1, "",
		"strmlocal: --kafka-brokers and --state are for the scale-out mode: add --log kafka\n")
	c.expect("serve --log kafka --kafka-brokers 127.0.0.1:1 --state postgres://127.0.0.1:1/x --ephemeral", 1, "",
		"strmlocal: --log kafka keeps nothing in a data dir: drop --data-dir and --ephemeral\n")
	c.expect("serve --log nats", 1, "", "strmlocal: invalid --log \"nats\": use pebble or kafka\n")
}
