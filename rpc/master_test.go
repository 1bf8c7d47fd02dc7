package rpc_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/cockroachdb/pebble/v2"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

// filledDir returns a data dir whose stream "demo" holds one event, and
// closes the server that made it.
func filledDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sb := strmtest.New(t, strmtest.WithDataDir(dir))
	mustAccept(t, sb.CreateStream("demo").Send(demoSchema, demo("s", 1)))
	if err := sb.Server.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMasterKeyRefusals(t *testing.T) {
	other, err := keys.NewMasterKeyset()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string) string // returns STRMLOCAL_MASTER_KEY
		want  string
	}{
		{"missing master.key", func(t *testing.T, dir string) string {
			if err := os.Remove(filepath.Join(dir, "master.key")); err != nil {
				t.Fatal(err)
			}
			return ""
		}, "keys: master key: <dir>/master.key is missing, but this data dir holds keys made under it: restore the file, or set STRMLOCAL_MASTER_KEY to its content"},
		{"corrupt master.key", func(t *testing.T, dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte("{not a keyset"), 0o600); err != nil {
				t.Fatal(err)
			}
			return ""
		}, "keys: master key: <dir>/master.key is not a cleartext Tink JSON keyset of an AEAD key; restore the right file, or set STRMLOCAL_MASTER_KEY"},
		{"master.key open to others", func(t *testing.T, dir string) string {
			if err := os.Chmod(filepath.Join(dir, "master.key"), 0o644); err != nil {
				t.Fatal(err)
			}
			return ""
		}, "keys: master key: <dir>/master.key has mode 0644, open to other users; restrict it with: chmod 600 <dir>/master.key"},
		{"another master key", func(t *testing.T, dir string) string { return other },
			"keys: master key: it does not open the keys stored in this data dir (wrong STRMLOCAL_MASTER_KEY or master.key?)"},
		{"garbage STRMLOCAL_MASTER_KEY", func(t *testing.T, dir string) string { return "nonsense" },
			"keys: master key: STRMLOCAL_MASTER_KEY is not a cleartext Tink JSON keyset of an AEAD key, nor the base64 of one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filledDir(t)
			env := tc.spoil(t, dir)
			key := filepath.Join(dir, "master.key")
			before, _ := os.ReadFile(key)
			_, err := rpc.New(rpc.Options{DataDir: dir, MasterKey: env})
			if err == nil {
				t.Fatal("server started")
			}
			if got := filepath.ToSlash(err.Error()); got != replaceDir(tc.want, dir) {
				t.Errorf("got  %s\nwant %s", got, replaceDir(tc.want, dir))
			}
			// The refusal leaves master.key as it was: no new key replaces
			// a lost one.
			if after, _ := os.ReadFile(key); string(after) != string(before) {
				t.Errorf("master.key changed: %q, then %q", before, after)
			}
		})
	}
}

func replaceDir(s, dir string) string { return strings.ReplaceAll(s, "<dir>", filepath.ToSlash(dir)) }

// A keyset that no longer opens under the master key makes reads of its
// events fail with Internal; the server still starts and serves the rest.
func TestKeysetThatFailsToDecrypt(t *testing.T) {
	dir := filledDir(t)
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := []byte{store.SpaceKeys, 'l'}, []byte{store.SpaceKeys, 'l' + 1}
	it, err := st.DB.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		v := append([]byte(nil), it.Value()...)
		v[len(v)-1] ^= 0xff // the end of the wrapped keyset
		if err := st.DB.Set(append([]byte(nil), it.Key()...), v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := it.Close(); err != nil || n != 1 {
		t.Fatalf("%d link records: %v", n, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	sb := strmtest.New(t, strmtest.WithDataDir(dir))
	derived := sb.CreateDerived("demo", 1)
	_, err = derived.Egress.ReadEvents(context.Background(), connect.NewRequest(&v1.ReadEventsRequest{}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInternal ||
		!strings.HasPrefix(ce.Message(), "offset 0: keys: master key: the keyset of key link ") ||
		!strings.HasSuffix(ce.Message(), " does not open under it (corrupt data dir?)") {
		t.Errorf("read: %v", err)
	}
}
