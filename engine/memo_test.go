package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// countingKey decrypts "ct:<path>:<value>" and counts its calls.
type countingKey struct{ calls int }

func (k *countingKey) Decrypt(path, ct string) (string, error) {
	k.calls++
	var p, v string
	if _, err := fmt.Sscanf(ct, "ct:%s %s", &p, &v); err != nil || p != path {
		return "", errors.New("does not decrypt")
	}
	return v, nil
}

func TestDecryptMemo(t *testing.T) {
	memo := NewDecryptMemo()
	a, b := &countingKey{}, &countingKey{}
	for _, tc := range []struct {
		key       *countingKey
		link      string
		path, ct  string
		want      string
		wantErr   bool
		wantCalls int
	}{
		{a, "link-a", "id", "ct:id u1", "u1", false, 1},
		{a, "link-a", "id", "ct:id u1", "u1", false, 1},     // remembered
		{a, "link-a", "id", "ct:id u2", "u2", false, 2},     // another value
		{b, "link-b", "id", "ct:id u1", "u1", false, 1},     // another link: its own key
		{a, "link-a", "other", "ct:id u1", "", true, 3},     // another path: not remembered, and refused
		{a, "link-a", "other", "ct:id u1", "", true, 4},     // errors are not remembered
		{a, "link-a", "other", "ct:other x", "x", false, 5}, //
	} {
		got, err := memo.Through(tc.link, tc.key).Decrypt(tc.path, tc.ct)
		if got != tc.want || (err != nil) != tc.wantErr || tc.key.calls != tc.wantCalls {
			t.Errorf("%s %s %q: got %q, %v, %d calls; want %q, error %v, %d calls", tc.link, tc.path, tc.ct, got, err, tc.key.calls, tc.want, tc.wantErr, tc.wantCalls)
		}
	}

	// The memo stays bounded.
	for i := range memoEntries + 10 {
		if _, err := memo.Through("link-a", a).Decrypt("id", fmt.Sprintf("ct:id v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(memo.m); n > memoEntries {
		t.Errorf("memo holds %d entries, more than %d", n, memoEntries)
	}
}

// The memo keeps copies of short ciphertexts only: a ciphertext is a piece
// of a stored record, which a long-lived reader's memo would otherwise keep
// alive, and a long value does not repeat the way session fields do.
func TestDecryptMemoKeepsCopiesOfShortValues(t *testing.T) {
	memo := NewDecryptMemo()
	k := &countingKey{}
	record := make([]byte, 1<<20)
	short := "ct:id u1"
	copy(record[100:], short)
	ct := unsafe.String(&record[100], len(short))
	for range 2 {
		if _, err := memo.Through("l", k).Decrypt("id", ct); err != nil {
			t.Fatal(err)
		}
	}
	if k.calls != 1 {
		t.Errorf("%d decryptions of a short repeated value, want 1", k.calls)
	}
	lo := uintptr(unsafe.Pointer(&record[0]))
	for key := range memo.m {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(key.ciphertext))); p >= lo && p < lo+uintptr(len(record)) {
			t.Errorf("the memo keeps the stored record alive")
		}
	}

	long := "ct:id " + strings.Repeat("v", memoMaxCiphertext)
	for range 2 {
		if _, err := memo.Through("l", k).Decrypt("id", long); err != nil {
			t.Fatal(err)
		}
	}
	if k.calls != 3 || len(memo.m) != 1 {
		t.Errorf("a long value: %d decryptions and %d entries, want 3 and 1 (not remembered)", k.calls, len(memo.m))
	}
}
