package engine

import "strings"

// DecryptMemo remembers plaintexts a reader has decrypted. Encryption is
// deterministic within a key link, and the fields worth encrypting are the
// ones that repeat (a session id, a customer id): a derived stream sees the
// same ciphertexts again and again, and a map lookup costs a fraction of an
// AES-SIV decryption. A memo belongs to one reader (one request or tail); it
// is not safe for concurrent use, and holds at most memoEntries values, in
// memory only.
type DecryptMemo struct {
	m   map[memoKey]string
	cur memoDecrypter // what Through returns, so that it allocates nothing
}

type memoKey struct {
	link, path, ciphertext string
}

// memoEntries bounds a memo's entries, and memoMaxCiphertext the values it
// remembers (the base64 of a 128-byte plaintext): at most about 2 MiB. The
// values that repeat are short; a long one is decrypted each time.
const (
	memoEntries       = 4096
	memoMaxCiphertext = 200
)

// NewDecryptMemo returns an empty memo.
func NewDecryptMemo() *DecryptMemo { return &DecryptMemo{m: make(map[memoKey]string)} }

// Through returns a Decrypter that decrypts with dec, the key of link,
// through the memo. It is the memo's one Decrypter, valid until the next
// Through.
func (m *DecryptMemo) Through(link string, dec Decrypter) Decrypter {
	m.cur = memoDecrypter{link, dec, m}
	return &m.cur
}

type memoDecrypter struct {
	link string
	dec  Decrypter
	memo *DecryptMemo
}

func (d *memoDecrypter) Decrypt(path, ciphertext string) (string, error) {
	if len(ciphertext) > memoMaxCiphertext {
		return d.dec.Decrypt(path, ciphertext)
	}
	k := memoKey{d.link, path, ciphertext}
	if pt, ok := d.memo.m[k]; ok {
		return pt, nil
	}
	pt, err := d.dec.Decrypt(path, ciphertext)
	if err != nil {
		return "", err
	}
	if len(d.memo.m) >= memoEntries {
		clear(d.memo.m)
	}
	// A copy of the ciphertext: it is a piece of a stored record, which the
	// memo would otherwise keep alive.
	k.ciphertext = strings.Clone(ciphertext)
	d.memo.m[k] = pt
	return pt, nil
}
