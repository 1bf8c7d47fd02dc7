package keys_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/strmlocal/strmlocal/keys"
)

func mustLoad(t *testing.T, dir, env string) tink.AEAD {
	t.Helper()
	m, err := keys.LoadMaster(dir, env)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// opens reports whether b decrypts what a encrypted.
func opens(t *testing.T, a, b tink.AEAD) bool {
	t.Helper()
	ct, err := a.Encrypt([]byte("keyset"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := b.Decrypt(ct, []byte("ad"))
	return err == nil && string(pt) == "keyset"
}

func TestLoadMasterFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first := mustLoad(t, dir, "")
	path := filepath.Join(dir, "master.key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("master.key mode = %04o, want 0600", got)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "type.googleapis.com/google.crypto.tink.AesGcmKey") || !strings.HasSuffix(string(b), "}\n") {
		t.Fatalf("master.key is not a one-line JSON keyset of an AES-GCM key")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only master.key", len(entries))
	}

	second := mustLoad(t, dir, "")
	if !opens(t, first, second) {
		t.Fatal("second LoadMaster does not open what the first wrapped")
	}
	// The env wins over the file.
	envKey, err := keys.NewMasterKeyset()
	if err != nil {
		t.Fatal(err)
	}
	fromEnv := mustLoad(t, dir, envKey)
	if opens(t, first, fromEnv) {
		t.Fatal("LoadMaster used the file, not STRMLOCAL_MASTER_KEY")
	}
	if !opens(t, fromEnv, mustLoad(t, "", envKey)) || !opens(t, fromEnv, mustLoad(t, "", base64.StdEncoding.EncodeToString([]byte(envKey)))) {
		t.Fatal("the same STRMLOCAL_MASTER_KEY (JSON or base64) gives another key")
	}
	// In memory: a fresh key every time.
	if opens(t, mustLoad(t, "", ""), mustLoad(t, "", "")) {
		t.Fatal("two in-memory master keys are the same")
	}
}

func TestLoadMasterErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	valid, err := keys.NewMasterKeyset()
	if err != nil {
		t.Fatal(err)
	}
	h, err := keyset.NewHandle(daead.AESSIVKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	var notAEAD strings.Builder
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&notAEAD)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     string
		file    string // "" for none
		mode    os.FileMode
		want    string
		secrets []string // must not be in the message
	}{
		{name: "env not a keyset", env: "hunter2-secret",
			want: "keys: master key: STRMLOCAL_MASTER_KEY is not a cleartext Tink JSON keyset of an AEAD key, nor the base64 of one", secrets: []string{"hunter2"}},
		{name: "env broken JSON", env: `{"primaryKeyId": 7, "key": [SECRET-BYTES`,
			want: "keys: master key: STRMLOCAL_MASTER_KEY is not a cleartext Tink JSON keyset of an AEAD key, nor the base64 of one", secrets: []string{"SECRET"}},
		{name: "env not AEAD", env: notAEAD.String(),
			want: "keys: master key: STRMLOCAL_MASTER_KEY holds a Tink keyset, but not of an AEAD key"},
		{name: "file not a keyset", file: "SECRET-garbage\n", mode: 0o600,
			want: "keys: master key: " + path + " is not a cleartext Tink JSON keyset of an AEAD key; restore the right file, or set STRMLOCAL_MASTER_KEY", secrets: []string{"SECRET"}},
		{name: "file empty", file: "\n", mode: 0o600,
			want: "keys: master key: " + path + " is not a cleartext Tink JSON keyset of an AEAD key; restore the right file, or set STRMLOCAL_MASTER_KEY"},
		{name: "file readable by others", file: valid, mode: 0o644,
			want: "keys: master key: " + path + " has mode 0644, open to other users; restrict it with: chmod 600 " + path},
		{name: "file writable by group", file: valid, mode: 0o620,
			want: "keys: master key: " + path + " has mode 0620, open to other users; restrict it with: chmod 600 " + path},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(path)
			if tc.file != "" {
				if err := os.WriteFile(path, []byte(tc.file), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			m, err := keys.LoadMaster(dir, tc.env)
			if m != nil || !errors.Is(err, keys.ErrMaster) || err.Error() != tc.want {
				t.Fatalf("LoadMaster = %v, %q; want %q", m, errString(err), tc.want)
			}
			for _, s := range tc.secrets {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error quotes the key: %v", err)
				}
			}
		})
	}
}

func TestLoadMasterUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if err := os.WriteFile(path, []byte("{}"), 0o000); err != nil {
		t.Fatal(err)
	}
	_, err := keys.LoadMaster(dir, "")
	want := "keys: master key: open " + path + ": permission denied"
	if !errors.Is(err, keys.ErrMaster) || err.Error() != want {
		t.Fatalf("LoadMaster = %q, want %q", errString(err), want)
	}
}

// A master key from the file opens the keys stored with it after a restart.
func TestLoadMasterReopen(t *testing.T) {
	dir := t.TempDir()
	loc := location{fs: vfs.Default, dir: filepath.Join(dir, "db")}
	e := &env{t: t, loc: loc, clock: newClock(), master: mustLoad(t, dir, "")}
	e.open()
	k := e.mustFor(1, "s", "")
	ct := k.Encrypt("f", "v")
	e.close()
	e.master = mustLoad(t, dir, "")
	e.open()
	defer e.close()
	k2, err := e.ks.Get(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := k2.Decrypt("f", ct); pt != "v" || err != nil {
		t.Fatalf("Decrypt after restart = %q, %v", pt, err)
	}
}
