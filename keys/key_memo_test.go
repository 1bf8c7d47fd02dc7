package keys

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/google/uuid"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// decryptCounting calls k.Decrypt and counts the calls its memory did not
// answer (those that ran AES-SIV): a plaintext from memory is the very
// string remembered before the call, not an equal one.
type decryptCounting struct {
	k        *Key
	decrypts int
}

func (c *decryptCounting) Decrypt(path, ct string) (string, error) {
	before := c.k.recent
	pt, err := c.k.Decrypt(path, ct)
	for _, e := range before {
		if err == nil && pt != "" && e.plaintext == pt && unsafe.StringData(e.plaintext) == unsafe.StringData(pt) {
			return pt, err
		}
	}
	c.decrypts++
	return pt, err
}

// memoKey returns a new Key under a new master key.
func memoKey(t *testing.T) *Key {
	t.Helper()
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
	return k
}

// Decrypt remembers what it decrypted, and what Encrypt made, in the same
// few slots: a repeat is answered without AES-SIV, and only the exact
// ciphertext of this key and path matches.
func TestKeyRemembersDecryptions(t *testing.T) {
	k := memoKey(t)
	counted := &decryptCounting{k: k}
	ct := k.Encrypt("f", "plain")

	for i, tc := range []struct {
		path, ct, want string
		ok             bool
		decrypts       int // AES-SIV decryptions so far
	}{
		{"f", ct, "plain", true, 0},                  // made by Encrypt: remembered
		{"g", ct, "", false, 1},                      // another path: refused
		{"f", ct[:len(ct)-4] + "AAAA", "", false, 2}, // altered: refused
		{"f", ct, "plain", true, 2},                  // still remembered
	} {
		pt, err := counted.Decrypt(tc.path, tc.ct)
		if (err == nil) != tc.ok || pt != tc.want || counted.decrypts != tc.decrypts {
			t.Errorf("case %d: Decrypt(%q) = %q, %v after %d AES-SIV decryptions; want %q ok=%v after %d",
				i, tc.path, pt, err, counted.decrypts, tc.want, tc.ok, tc.decrypts)
		}
	}
	// Push the encryption out of memory (it served calls, so it outlives
	// one round of new values): the next decryption runs AES-SIV and is
	// remembered in turn.
	for i := range 2 * recentEncryptions {
		k.Encrypt("f", string(rune('a'+i)))
	}
	for round := range 2 {
		if pt, err := counted.Decrypt("f", ct); err != nil || pt != "plain" || counted.decrypts != 3 {
			t.Fatalf("round %d: Decrypt = %q, %v after %d AES-SIV decryptions; want plain after 3", round, pt, err, counted.decrypts)
		}
	}
}

// A value that repeats in every event of a session (its key field, its
// data subject) stays remembered while the session's other PII values
// change with every event: each event here encrypts two new values and
// the repeated one, whose ciphertext comes from memory every time (the
// same string, not an equal one made again).
func TestKeyKeepsRepeatedEncryptions(t *testing.T) {
	k := memoKey(t)
	first := k.Encrypt("consistentValue", "session-7")
	for i := range 20 {
		k.Encrypt("uniqueIdentifier", fmt.Sprintf("unique-%d", i))
		if got := k.Encrypt("consistentValue", "session-7"); unsafe.StringData(got) != unsafe.StringData(first) {
			t.Fatalf("event %d: the repeated value was encrypted again", i)
		}
		k.Encrypt("someSensitiveValue", fmt.Sprintf("sensitive-%d", i))
	}
}

// inside reports whether s's bytes lie within buf's.
func inside(s string, buf []byte) bool {
	if len(s) == 0 || len(buf) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&buf[0]))
	return p >= lo && p < lo+uintptr(len(buf))
}

// What a Key remembers is its own copy: a plaintext or ciphertext cut from
// a large event body must not keep that body alive as long as the Key (a
// sandbox fed 1,000 events of 1 MiB held all of them, ~1 GB, in memory).
func TestKeyRemembersCopies(t *testing.T) {
	k := memoKey(t)
	body := make([]byte, 1<<20)
	copy(body[1000:], "session-1")
	plaintext := unsafe.String(&body[1000], len("session-1"))
	ct := k.Encrypt("f", plaintext)
	if e := k.recent[0]; e.plaintext != "session-1" || inside(e.plaintext, body) {
		t.Errorf("Encrypt remembered %q, inside the body: %v", e.plaintext, inside(e.plaintext, body))
	}

	record := make([]byte, 1<<20)
	copy(record[5000:], ct)
	stored := unsafe.String(&record[5000], len(ct))
	for i := range recentEncryptions {
		k.Encrypt("g", string(rune('a'+i))) // push the encryption out
	}
	if pt, err := k.Decrypt("f", stored); err != nil || pt != "session-1" {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
	for _, e := range k.recent {
		if inside(e.ciphertext, record) {
			t.Errorf("Decrypt remembered the ciphertext inside the stored record")
		}
	}
}
