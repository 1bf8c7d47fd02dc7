package keys

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/strmlocal/strmlocal/log"
)

// Link is the metadata of a key link. It holds no key material and no
// trace of the key value or data subject it was created for.
type Link struct {
	// ID is a random UUID; events carry it as strmMeta.keyLink.
	ID string
	// Stream is the source stream the link belongs to.
	Stream log.StreamID
	// Created is when the link was created (the first event of its period).
	Created time.Time
	// RotatesAt is Created + Options.Rotation: from then on, For hands out a
	// new link for the same key value.
	RotatesAt time.Time
	// ExpiresAt is RotatesAt + Options.Retention: when Sweep deletes the key.
	ExpiresAt time.Time
	// Shredded says the key is deleted, by retention or by Forget. Events it
	// encrypted can never be decrypted again.
	Shredded bool
	// ShreddedAt is when the key was deleted; zero while it is not.
	ShreddedAt time.Time
	// Forgotten says the key was shredded by Forget rather than retention.
	Forgotten bool
}

// Key is a live key link with its deterministic AEAD (AES-256-SIV). A Key is
// safe for concurrent use; apart from its memory of recent encryptions it
// is immutable. The Key returned by Get alongside
// ErrShredded has only its Link set.
type Key struct {
	Link

	id     uuid.UUID
	handle *keyset.Handle         // nil when shredded
	d      tink.DeterministicAEAD // nil when shredded
	vh     digest                 // value digest, to drop the current-link entry

	// subjects are the subject hashes recorded against this link, each
	// with its entry while that is not written yet (pending.go), else nil.
	// REQUIRES: Keys.mu held.
	subjects map[digest]*entry
	// pend is the link's own entry while it is not written yet.
	// REQUIRES: Keys.mu held.
	pend *entry
	// fresh says the link was created since Open, so subjects holds every
	// subject recorded against it.
	fresh bool

	// recent remembers the last few encryptions and decryptions: the same
	// (path, plaintext, ciphertext) triples serve both ways. A key belongs
	// to one session (one keyField value), whose PII values are few and
	// repeat in every event, and Tink's AES-SIV costs far more than a
	// comparison. Every reader of a derived stream shares it, and what
	// ingest encrypted is there for the first reader. Only short values are
	// kept, in memory only, for as long as the Key (shredding drops it).
	recentMu sync.Mutex
	recent   [recentEncryptions]encryption
	next     int // REQUIRES: recentMu held
}

// recentEncryptions is how many encryptions and decryptions a Key
// remembers; maxRememberedLen bounds the plaintexts it remembers.
const (
	recentEncryptions = 4
	maxRememberedLen  = 128
)

type encryption struct{ path, plaintext, ciphertext string }

// Encrypt encrypts plaintext for the field at path (the associated data)
// and returns standard base64 of Tink's output (0x01 ‖ key ID ‖ SIV ‖
// ciphertext). The same key, path and plaintext always give the same
// ciphertext.
//
// Encrypt panics if k was returned with ErrShredded: encrypting with a
// deleted key is a programming error.
func (k *Key) Encrypt(path, plaintext string) string {
	if k.d == nil {
		panic("keys: Encrypt with the shredded key link " + k.ID)
	}
	remember := len(plaintext) <= maxRememberedLen
	if remember {
		k.recentMu.Lock()
		for _, e := range k.recent {
			if e.ciphertext != "" && e.plaintext == plaintext && e.path == path {
				k.recentMu.Unlock()
				return e.ciphertext
			}
		}
		k.recentMu.Unlock()
	}
	ct, err := k.d.EncryptDeterministically([]byte(plaintext), []byte(path))
	if err != nil {
		// AES-SIV fails only on inputs near 2^63 bytes.
		panic(fmt.Sprintf("keys: encrypt field %q with key link %s: input too large", path, k.ID))
	}
	out := base64.StdEncoding.EncodeToString(ct)
	if remember {
		// A copy: plaintext is often a piece of the whole event body,
		// which the Key would otherwise keep alive for as long as it lives.
		k.recentMu.Lock()
		k.recent[k.next] = encryption{path, strings.Clone(plaintext), out}
		k.next = (k.next + 1) % recentEncryptions
		k.recentMu.Unlock()
	}
	return out
}

// Decrypt reverses Encrypt. It returns an error matching ErrCiphertext when
// ciphertext is not base64, was made by another key or for another path, or
// was altered; and ErrShredded when k was returned with ErrShredded.
func (k *Key) Decrypt(path, ciphertext string) (string, error) {
	if k.d == nil {
		return "", fmt.Errorf("%w: key link %s", ErrShredded, k.ID)
	}
	// Only a ciphertext this key made matches: it authenticated once.
	k.recentMu.Lock()
	for _, e := range k.recent {
		if e.ciphertext == ciphertext && e.path == path && e.ciphertext != "" {
			k.recentMu.Unlock()
			return e.plaintext, nil
		}
	}
	k.recentMu.Unlock()
	ct, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return "", fmt.Errorf("%w: field %q is not base64", ErrCiphertext, path)
	}
	pt, err := k.d.DecryptDeterministically(ct, []byte(path))
	if err != nil {
		return "", fmt.Errorf("%w: field %q does not decrypt with key link %s", ErrCiphertext, path, k.ID)
	}
	plaintext := string(pt)
	if len(plaintext) <= maxRememberedLen {
		// A copy of the ciphertext: it is a piece of a stored record.
		k.recentMu.Lock()
		k.recent[k.next] = encryption{path, plaintext, strings.Clone(ciphertext)}
		k.next = (k.next + 1) % recentEncryptions
		k.recentMu.Unlock()
	}
	return plaintext, nil
}

// keysetAD binds a wrapped keyset to its link, so that a keyset moved to
// another link's record does not open.
func keysetAD(id uuid.UUID) []byte {
	return append([]byte("strmlocal keys: keyset of link "), id[:]...)
}

// aesSIVTemplate is built once: NewHandle only reads it.
var aesSIVTemplate = daead.AESSIVKeyTemplate()

// newKey returns a fresh single-key AES-256-SIV keyset for link id and its
// wrapped form.
func newKey(id uuid.UUID, master tink.AEAD) (*Key, []byte, error) {
	h, err := keyset.NewHandle(aesSIVTemplate)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: new keyset: %w", err)
	}
	d, err := daead.New(h)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: new keyset: %w", err)
	}
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), master, keysetAD(id)); err != nil {
		return nil, nil, fmt.Errorf("keys: wrap keyset of key link %s: %w", id, err)
	}
	return &Key{id: id, handle: h, d: d}, buf.Bytes(), nil
}

// unwrap opens the keyset of a live record.
func unwrap(r *record, master tink.AEAD) (*Key, error) {
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(r.wrapped)), master, keysetAD(r.id))
	if err != nil {
		// Tink's message says nothing secret, but also nothing useful.
		return nil, fmt.Errorf("%w: the keyset of key link %s does not open under it (corrupt data dir?)", ErrMaster, r.id)
	}
	d, err := daead.New(h)
	if err != nil {
		return nil, fmt.Errorf("%w: key link %s holds a keyset that is not a deterministic AEAD", errCorrupt, r.id)
	}
	return &Key{Link: r.Link, id: r.id, handle: h, d: d, vh: r.vh}, nil
}
