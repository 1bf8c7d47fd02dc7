package keys_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// An exported keyset decrypts, with nothing but Tink, what Key.Encrypt
// wrote.
func TestExport(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	old := e.mustFor(1, "s1", "")
	e.clock.Advance(25 * time.Hour)
	cur := e.mustFor(1, "s1", "")
	forgotten := e.mustFor(1, "s2", "alice")
	other := e.mustFor(2, "s1", "")
	if _, err := e.ks.Forget("alice"); err != nil {
		t.Fatal(err)
	}
	rows, err := e.ks.Export(1)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.KeyLink)
	}
	if want := []string{old.ID, cur.ID}; !slices.Equal(ids, want) {
		t.Fatalf("exported links %v, want %v (not %s, %s)", ids, want, forgotten.ID, other.ID)
	}
	for i, k := range []struct {
		ct        string
		expiresAt time.Time
	}{
		{old.Encrypt("customer/email", "x@example.com"), old.ExpiresAt},
		{cur.Encrypt("customer/email", "x@example.com"), cur.ExpiresAt},
	} {
		r := rows[i]
		if !r.ExpiresAt.Equal(k.expiresAt) {
			t.Errorf("row %d ExpiresAt = %s, want %s", i, r.ExpiresAt, k.expiresAt)
		}
		if strings.Contains(r.Keyset, "\n") || !strings.Contains(r.Keyset, "google.crypto.tink.AesSivKey") {
			t.Errorf("row %d keyset is not one line of an AES-SIV keyset", i)
		}
		h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(strings.NewReader(r.Keyset)))
		if err != nil {
			t.Fatal(err)
		}
		d, err := daead.New(h)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(k.ct)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := d.DecryptDeterministically(raw, []byte("customer/email"))
		if err != nil || string(pt) != "x@example.com" {
			t.Fatalf("row %d: Tink decrypts %q, %v", i, pt, err)
		}
	}
	if rows, err := e.ks.Export(9); err != nil || rows == nil || len(rows) != 0 {
		t.Fatalf("Export of a stream without keys = %#v, %v; want empty", rows, err)
	}
}

func TestCSVRow(t *testing.T) {
	exp := time.UnixMilli(1700000000123)
	for _, c := range []struct {
		link, keyset string
		expires      time.Time
		want         string
	}{
		{"", "", time.Time{}, `"","",""` + "\n"},
		{"abc", `{"primaryKeyId":1}`, exp, `"abc","{""primaryKeyId"":1}","1700000000123"` + "\n"},
		{"a,b\nc", "x", exp, "\"a,b\nc\",\"x\",\"1700000000123\"\n"},
	} {
		if got := keys.CSVRow(c.link, c.keyset, c.expires); got != c.want {
			t.Errorf("CSVRow(%q, %q) = %q, want %q", c.link, c.keyset, got, c.want)
		}
	}
}
