package engine

import (
	"errors"
	"fmt"
	"testing"
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
