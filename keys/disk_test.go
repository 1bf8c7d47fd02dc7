package keys_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	aspb "github.com/tink-crypto/tink-go/v2/proto/aes_siv_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/strmlocal/strmlocal/keys"
)

// Nothing secret reaches the disk in clear: not key values, subjects or
// plaintexts, not the keysets, not the hash key. Pebble compression is off
// (openDB), so a byte in any file would be found.
func TestNoPlaintextOnDisk(t *testing.T) {
	dir := t.TempDir()
	master, err := keys.LoadMaster(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	loc := location{fs: vfs.Default, dir: filepath.Join(dir, "db")}
	e := &env{t: t, loc: loc, clock: newClock(), master: master}
	e.open()
	t.Cleanup(e.close)

	secrets := map[string][]byte{}
	addSecret := func(name string, b []byte) { secrets[name] = append([]byte(nil), b...) }
	for _, s := range []string{"session-PLAINTEXT-7f3a", "session-PLAINTEXT-9e21", "alice@example.com", "bob@example.com", "PLAINTEXT-email-c0ffee", "PLAINTEXT-name-d00d"} {
		addSecret(s, []byte(s))
	}
	addSecret("hash key", keys.HashKeyOf(e.ks))

	ka := e.mustFor(1, "session-PLAINTEXT-7f3a", "alice@example.com")
	ka.Encrypt("email", "PLAINTEXT-email-c0ffee")
	if err := e.db.Flush(); err != nil { // some in an sstable, some in the WAL
		t.Fatal(err)
	}
	kb := e.mustFor(1, "session-PLAINTEXT-9e21", "bob@example.com")
	kb.Encrypt("name", "PLAINTEXT-name-d00d")
	e.clock.Advance(25 * time.Hour)
	e.mustFor(1, "session-PLAINTEXT-7f3a", "alice@example.com") // rotated

	rows, err := e.ks.Export(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d exported keys, want 3", len(rows))
	}
	for _, r := range rows {
		raw, value := rawKey(t, r.Keyset)
		addSecret("key value of "+r.KeyLink, raw)
		addSecret("first 16 bytes of the key of "+r.KeyLink, raw[:16])
		addSecret("last 16 bytes of the key of "+r.KeyLink, raw[len(raw)-16:])
		addSecret("serialized key of "+r.KeyLink, value)
	}
	if _, err := e.ks.Forget("bob@example.com"); err != nil {
		t.Fatal(err)
	}
	e.close()

	files := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s holds %s in clear", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 4 { // master.key, WAL, sstable, MANIFEST at least
		t.Fatalf("scanned %d files", files)
	}
}

// rawKey returns the AES-SIV key bytes of a cleartext JSON keyset of one
// key, and the serialized key proto that holds them.
func rawKey(t *testing.T, keysetJSON string) (raw, value []byte) {
	t.Helper()
	var ks struct {
		Key []struct {
			KeyData struct {
				Value string `json:"value"`
			} `json:"keyData"`
		} `json:"key"`
	}
	if err := json.Unmarshal([]byte(keysetJSON), &ks); err != nil || len(ks.Key) != 1 {
		t.Fatalf("exported keyset: %v, %d keys", err, len(ks.Key))
	}
	value, err := base64.StdEncoding.DecodeString(ks.Key[0].KeyData.Value)
	if err != nil {
		t.Fatal(err)
	}
	var k aspb.AesSivKey
	if err := proto.Unmarshal(value, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.KeyValue) != 64 {
		t.Fatalf("AES-SIV key of %d bytes, want 64", len(k.KeyValue))
	}
	return k.KeyValue, value
}
