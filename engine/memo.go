package engine

// DecryptMemo remembers plaintexts a reader has decrypted. Encryption is
// deterministic within a key link, and the fields worth encrypting are the
// ones that repeat (a session id, a customer id): a derived stream sees the
// same ciphertexts again and again, and a map lookup costs a fraction of an
// AES-SIV decryption. A memo belongs to one reader (one request or tail); it
// is not safe for concurrent use, and holds at most memoEntries values, in
// memory only.
type DecryptMemo struct {
	m map[memoKey]string
}

type memoKey struct {
	link, path, ciphertext string
}

const memoEntries = 4096

// NewDecryptMemo returns an empty memo.
func NewDecryptMemo() *DecryptMemo { return &DecryptMemo{m: make(map[memoKey]string)} }

// Through returns a Decrypter that decrypts with dec, the key of link,
// through the memo.
func (m *DecryptMemo) Through(link string, dec Decrypter) Decrypter {
	return memoDecrypter{link, dec, m}
}

type memoDecrypter struct {
	link string
	dec  Decrypter
	memo *DecryptMemo
}

func (d memoDecrypter) Decrypt(path, ciphertext string) (string, error) {
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
	d.memo.m[k] = pt
	return pt, nil
}
