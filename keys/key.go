package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	aessivpb "github.com/tink-crypto/tink-go/v2/proto/aes_siv_go_proto"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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

	id uuid.UUID
	// keyset is the cleartext keyset, serialized (Tink's binary format),
	// for Export; d is its AES-SIV. Both are nil when shredded.
	keyset []byte
	d      *siv
	vh     digest // value digest, to drop the current-link entry

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
	// repeat in every event, and AES-SIV costs far more than a
	// comparison. Every reader of a derived stream shares it, and what
	// ingest encrypted is there for the first reader. Only short values are
	// kept, in memory only, for as long as the Key (shredding drops it).
	//
	// An entry that served a call is kept over one that never did
	// (second chance, remember): a session's stable values (its key field,
	// its data subject) stay while values that change with every event
	// pass through, where a plain ring would evict them every other event.
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

type encryption struct {
	path, plaintext, ciphertext string
	used                        bool // served a call since it was stored or passed over
}

// remember stores e in recent, in the first entry from next on that has
// not served a call since it was last passed over. REQUIRES: recentMu held.
func (k *Key) remember(e encryption) {
	for k.recent[k.next].used {
		k.recent[k.next].used = false
		k.next = (k.next + 1) % recentEncryptions
	}
	k.recent[k.next] = e
	k.next = (k.next + 1) % recentEncryptions
}

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
		for i := range k.recent {
			if e := &k.recent[i]; e.ciphertext != "" && e.plaintext == plaintext && e.path == path {
				e.used = true
				k.recentMu.Unlock()
				return e.ciphertext
			}
		}
		k.recentMu.Unlock()
	}
	sc := getScratch()
	sc.raw = k.d.appendEncrypt(sc, sc.raw[:0], path, plaintext)
	sc.text = base64.StdEncoding.AppendEncode(sc.text[:0], sc.raw)
	out := string(sc.text)
	putScratch(sc)
	if remember {
		// A copy: plaintext is often a piece of the whole event body,
		// which the Key would otherwise keep alive for as long as it lives.
		k.recentMu.Lock()
		k.remember(encryption{path: path, plaintext: strings.Clone(plaintext), ciphertext: out})
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
	for i := range k.recent {
		if e := &k.recent[i]; e.ciphertext == ciphertext && e.path == path && e.ciphertext != "" {
			e.used = true
			k.recentMu.Unlock()
			return e.plaintext, nil
		}
	}
	k.recentMu.Unlock()
	sc := getScratch()
	defer putScratch(sc)
	sc.text = append(sc.text[:0], ciphertext...)
	var err error
	if sc.raw, err = base64.StdEncoding.AppendDecode(sc.raw[:0], sc.text); err != nil {
		return "", fmt.Errorf("%w: field %q is not base64", ErrCiphertext, path)
	}
	if sc.text, err = k.d.appendDecrypt(sc, sc.text[:0], sc.raw, path); err != nil {
		return "", fmt.Errorf("%w: field %q does not decrypt with key link %s", ErrCiphertext, path, k.ID)
	}
	plaintext := string(sc.text)
	clear(sc.text)
	if len(plaintext) <= maxRememberedLen {
		// A copy of the ciphertext: it is a piece of a stored record.
		k.recentMu.Lock()
		k.remember(encryption{path: path, plaintext: plaintext, ciphertext: strings.Clone(ciphertext)})
		k.recentMu.Unlock()
	}
	return plaintext, nil
}

// keysetAD binds a wrapped keyset to its link, so that a keyset moved to
// another link's record does not open.
func keysetAD(id uuid.UUID) []byte {
	return append([]byte("strmlocal keys: keyset of link "), id[:]...)
}

// The keyset of a link is one AES-256-SIV key with Tink's TINK output
// prefix, as daead.AESSIVKeyTemplate makes it. newKey encodes its protos
// (tink.proto's Keyset and EncryptedKeyset, aes_siv.proto's AesSivKey)
// itself, as proto.Marshal would (siv_test.go compares the bytes): going
// through Tink's key manager and keyset handle, or even proto.Marshal,
// cost several times more on every new link.
const aesSIVTypeURL = "type.googleapis.com/google.crypto.tink.AesSivKey"

// newKey returns a fresh single-key AES-256-SIV keyset for link id and its
// wrapped form: Tink's binary EncryptedKeyset, which Tink's
// keyset.ReadWithAssociatedData opens with the master key and keysetAD(id).
func newKey(id uuid.UUID, master tink.AEAD) (*Key, []byte, error) {
	raw := make([]byte, sivKeyLen+4)
	defer clear(raw)
	rand.Read(raw) // never fails (crypto/rand)
	keyID := binary.BigEndian.Uint32(raw[sivKeyLen:])
	for keyID == 0 { // 0 is a valid Tink key ID, but easily mistaken for none
		rand.Read(raw[sivKeyLen:])
		keyID = binary.BigEndian.Uint32(raw[sivKeyLen:])
	}
	key := raw[:sivKeyLen]
	d, err := newSIV(key, keyID)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: new keyset: %w", err)
	}
	ks := appendKeyset(nil, key, keyID)
	enc, err := master.Encrypt(ks, keysetAD(id))
	if err != nil {
		return nil, nil, fmt.Errorf("keys: wrap keyset of key link %s: %w", id, err)
	}
	return &Key{id: id, keyset: ks, d: d}, appendEncryptedKeyset(nil, enc, keyID), nil
}

// Field numbers of tink.proto and aes_siv.proto.
const (
	fieldKeysetPrimaryKeyID  = 1 // Keyset, KeysetInfo
	fieldKeysetKey           = 2 // Keyset.key, KeysetInfo.key_info
	fieldKeyData             = 1 // Keyset.Key
	fieldKeyStatus           = 2 // Keyset.Key, KeysetInfo.KeyInfo
	fieldKeyID               = 3 // Keyset.Key, KeysetInfo.KeyInfo
	fieldKeyOutputPrefix     = 4 // Keyset.Key, KeysetInfo.KeyInfo
	fieldTypeURL             = 1 // KeyData, KeysetInfo.KeyInfo
	fieldKeyDataValue        = 2
	fieldKeyDataMaterialType = 3
	fieldAESSIVKeyValue      = 2 // AesSivKey (its version, field 1, is 0: omitted)
	fieldEncryptedKeyset     = 2 // EncryptedKeyset
	fieldEncryptedKeysetInfo = 3
)

// appendKeyset appends the binary Keyset of the one AES-SIV key.
func appendKeyset(b, key []byte, keyID uint32) []byte {
	sivKey := protowire.SizeTag(fieldAESSIVKeyValue) + protowire.SizeBytes(len(key))
	keyData := protowire.SizeTag(fieldTypeURL) + protowire.SizeBytes(len(aesSIVTypeURL)) +
		protowire.SizeTag(fieldKeyDataValue) + protowire.SizeBytes(sivKey) +
		protowire.SizeTag(fieldKeyDataMaterialType) + protowire.SizeVarint(uint64(tinkpb.KeyData_SYMMETRIC))
	entry := protowire.SizeTag(fieldKeyData) + protowire.SizeBytes(keyData) + keyAttrsSize(keyID)
	b = slices.Grow(b, protowire.SizeTag(fieldKeysetPrimaryKeyID)+protowire.SizeVarint(uint64(keyID))+
		protowire.SizeTag(fieldKeysetKey)+protowire.SizeBytes(entry))
	b = protowire.AppendTag(b, fieldKeysetPrimaryKeyID, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(keyID))
	b = protowire.AppendTag(b, fieldKeysetKey, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(entry))
	b = protowire.AppendTag(b, fieldKeyData, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(keyData))
	b = protowire.AppendTag(b, fieldTypeURL, protowire.BytesType)
	b = protowire.AppendString(b, aesSIVTypeURL)
	b = protowire.AppendTag(b, fieldKeyDataValue, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sivKey))
	b = protowire.AppendTag(b, fieldAESSIVKeyValue, protowire.BytesType)
	b = protowire.AppendBytes(b, key)
	b = protowire.AppendTag(b, fieldKeyDataMaterialType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(tinkpb.KeyData_SYMMETRIC))
	return appendKeyAttrs(b, keyID)
}

// appendEncryptedKeyset appends the binary EncryptedKeyset of enc, the
// wrapped Keyset of the one AES-SIV key, with its KeysetInfo.
func appendEncryptedKeyset(b, enc []byte, keyID uint32) []byte {
	keyInfo := protowire.SizeTag(fieldTypeURL) + protowire.SizeBytes(len(aesSIVTypeURL)) + keyAttrsSize(keyID)
	info := protowire.SizeTag(fieldKeysetPrimaryKeyID) + protowire.SizeVarint(uint64(keyID)) +
		protowire.SizeTag(fieldKeysetKey) + protowire.SizeBytes(keyInfo)
	b = slices.Grow(b, protowire.SizeTag(fieldEncryptedKeyset)+protowire.SizeBytes(len(enc))+
		protowire.SizeTag(fieldEncryptedKeysetInfo)+protowire.SizeBytes(info))
	b = protowire.AppendTag(b, fieldEncryptedKeyset, protowire.BytesType)
	b = protowire.AppendBytes(b, enc)
	b = protowire.AppendTag(b, fieldEncryptedKeysetInfo, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(info))
	b = protowire.AppendTag(b, fieldKeysetPrimaryKeyID, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(keyID))
	b = protowire.AppendTag(b, fieldKeysetKey, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(keyInfo))
	b = protowire.AppendTag(b, fieldTypeURL, protowire.BytesType)
	b = protowire.AppendString(b, aesSIVTypeURL)
	return appendKeyAttrs(b, keyID)
}

// keyAttrsSize is the size of what appendKeyAttrs appends.
func keyAttrsSize(keyID uint32) int {
	return protowire.SizeTag(fieldKeyStatus) + protowire.SizeVarint(uint64(tinkpb.KeyStatusType_ENABLED)) +
		protowire.SizeTag(fieldKeyID) + protowire.SizeVarint(uint64(keyID)) +
		protowire.SizeTag(fieldKeyOutputPrefix) + protowire.SizeVarint(uint64(tinkpb.OutputPrefixType_TINK))
}

// appendKeyAttrs appends the fields that Keyset.Key and KeysetInfo.KeyInfo
// share after the key data or type URL: status, key ID, output prefix.
func appendKeyAttrs(b []byte, keyID uint32) []byte {
	b = protowire.AppendTag(b, fieldKeyStatus, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(tinkpb.KeyStatusType_ENABLED))
	b = protowire.AppendTag(b, fieldKeyID, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(keyID))
	b = protowire.AppendTag(b, fieldKeyOutputPrefix, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(tinkpb.OutputPrefixType_TINK))
}

// unwrap opens the keyset of a live record: what newKey wrapped, or what
// Tink's keyset.Handle.WriteWithAssociatedData wrapped before (the same
// form).
func unwrap(r *record, master tink.AEAD) (*Key, error) {
	var ek tinkpb.EncryptedKeyset
	var ks []byte
	err := proto.Unmarshal(r.wrapped, &ek)
	if err == nil {
		ks, err = master.Decrypt(ek.GetEncryptedKeyset(), keysetAD(r.id))
	}
	if err != nil {
		// What failed says nothing useful, and a proto error may quote bytes.
		return nil, fmt.Errorf("%w: the keyset of key link %s does not open under it (corrupt data dir?)", ErrMaster, r.id)
	}
	d, err := keysetSIV(ks)
	if err != nil {
		return nil, fmt.Errorf("%w: key link %s holds a keyset that is not a deterministic AEAD (%w)", errCorrupt, r.id, err)
	}
	return &Key{Link: r.Link, id: r.id, keyset: ks, d: d, vh: r.vh}, nil
}

// keysetSIV returns the AES-SIV of a serialized keyset of the form newKey
// makes. Its errors name the rule broken, never key bytes.
func keysetSIV(b []byte) (*siv, error) {
	var ks tinkpb.Keyset
	if err := proto.Unmarshal(b, &ks); err != nil {
		return nil, errors.New("not a Tink keyset")
	}
	if len(ks.GetKey()) != 1 {
		return nil, fmt.Errorf("%d keys; want 1", len(ks.GetKey()))
	}
	k := ks.GetKey()[0]
	switch {
	case k.GetKeyData().GetTypeUrl() != aesSIVTypeURL:
		return nil, errors.New("the key is not AES-SIV")
	case k.GetStatus() != tinkpb.KeyStatusType_ENABLED:
		return nil, errors.New("the key is not enabled")
	case k.GetKeyId() != ks.GetPrimaryKeyId():
		return nil, errors.New("the key is not the primary")
	case k.GetOutputPrefixType() != tinkpb.OutputPrefixType_TINK:
		return nil, errors.New("the key's output prefix is not TINK")
	}
	var sk aessivpb.AesSivKey
	if err := proto.Unmarshal(k.GetKeyData().GetValue(), &sk); err != nil {
		return nil, errors.New("the key is not an AesSivKey")
	}
	defer clear(sk.KeyValue)
	if sk.GetVersion() != 0 {
		return nil, fmt.Errorf("AesSivKey version %d; want 0", sk.GetVersion())
	}
	return newSIV(sk.GetKeyValue(), k.GetKeyId())
}

// handle returns k's keyset as a Tink keyset handle.
func (k *Key) handle() (*keyset.Handle, error) {
	return insecurecleartextkeyset.Read(keyset.NewBinaryReader(bytes.NewReader(k.keyset)))
}
