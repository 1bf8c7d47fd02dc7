package keys

import (
	"testing"

	"github.com/google/uuid"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// countingDAEAD counts the decryptions that reach Tink.
type countingDAEAD struct {
	tink.DeterministicAEAD
	decrypts int
}

func (c *countingDAEAD) DecryptDeterministically(ct, ad []byte) ([]byte, error) {
	c.decrypts++
	return c.DeterministicAEAD.DecryptDeterministically(ct, ad)
}

// Decrypt remembers what it decrypted, and what Encrypt made, in the same
// few slots: a repeat is answered without Tink, and only the exact
// ciphertext of this key and path matches.
func TestKeyRemembersDecryptions(t *testing.T) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	master, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := newKey(uuid.New(), master)
	if err != nil {
		t.Fatal(err)
	}
	tinkd := &countingDAEAD{DeterministicAEAD: k.d}
	k.d = tinkd
	ct := k.Encrypt("f", "plain")

	for i, tc := range []struct {
		path, ct, want string
		ok             bool
		decrypts       int // Tink decryptions so far
	}{
		{"f", ct, "plain", true, 0},                  // made by Encrypt: remembered
		{"g", ct, "", false, 1},                      // another path: Tink refuses it
		{"f", ct[:len(ct)-4] + "AAAA", "", false, 2}, // altered: Tink refuses it
		{"f", ct, "plain", true, 2},                  // still remembered
	} {
		pt, err := k.Decrypt(tc.path, tc.ct)
		if (err == nil) != tc.ok || pt != tc.want || tinkd.decrypts != tc.decrypts {
			t.Errorf("case %d: Decrypt(%q) = %q, %v after %d Tink decryptions; want %q ok=%v after %d",
				i, tc.path, pt, err, tinkd.decrypts, tc.want, tc.ok, tc.decrypts)
		}
	}
	// Push the encryption out of memory: the next decryption goes to Tink
	// and is remembered in turn.
	for i := range recentEncryptions {
		k.Encrypt("f", string(rune('a'+i)))
	}
	for round := range 2 {
		if pt, err := k.Decrypt("f", ct); err != nil || pt != "plain" || tinkd.decrypts != 3 {
			t.Fatalf("round %d: Decrypt = %q, %v after %d Tink decryptions; want plain after 3", round, pt, err, tinkd.decrypts)
		}
	}
}
