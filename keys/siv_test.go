package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	aessivpb "github.com/tink-crypto/tink-go/v2/proto/aes_siv_go_proto"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/proto"
)

func testMaster(t *testing.T) tink.AEAD {
	t.Helper()
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	master, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return master
}

// sivCases cover every length class of S2V and CTR: empty, under one
// block, exactly one, over one, the inline CTR limit and past it, and
// associated data of zero, one and several blocks.
var sivCases = []struct{ path, plaintext string }{
	{"f", ""},
	{"", "x"},
	{"customer/email", "someone@example.com."},
	{"a", strings.Repeat("a", 15)},
	{"a", strings.Repeat("b", 16)},
	{"a", strings.Repeat("c", 17)},
	{"customer/address/street", strings.Repeat("d", 31)},
	{"0123456789abcdef", strings.Repeat("e", 32)},
	{"0123456789abcdef0", strings.Repeat("f", 33)},
	{"deep/nested/path/of/a/field/in/a/record", strings.Repeat("g", maxInlineCTR)},
	{"p", strings.Repeat("h", maxInlineCTR+1)},
	{"p", strings.Repeat("ĳ€", 100)},
	{"p", strings.Repeat("\x00\xff", 1000)},
}

// tinkOf returns Tink's own primitive of k's keyset, through the keyset
// handle as the keys package used it before.
func tinkOf(t *testing.T, k *Key) tink.DeterministicAEAD {
	t.Helper()
	h, err := k.handle()
	if err != nil {
		t.Fatal(err)
	}
	d, err := daead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Encrypt gives the bytes Tink's primitive gives for the same keyset, and
// each decrypts what the other encrypted.
func TestSIVMatchesTink(t *testing.T) {
	master := testMaster(t)
	for range 3 {
		id := uuid.New()
		k, wrapped, err := newKey(id, master)
		if err != nil {
			t.Fatal(err)
		}
		td := tinkOf(t, k)
		// A second Key of the same keyset, opened from storage, with
		// nothing in memory.
		opened, err := unwrap(&record{id: id, wrapped: wrapped}, master)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range sivCases {
			want, err := td.EncryptDeterministically([]byte(c.plaintext), []byte(c.path))
			if err != nil {
				t.Fatal(err)
			}
			got := k.Encrypt(c.path, c.plaintext)
			if got != base64.StdEncoding.EncodeToString(want) {
				t.Errorf("case %d (%d bytes): Encrypt = %s; Tink gives %s", i, len(c.plaintext), got, base64.StdEncoding.EncodeToString(want))
			}
			if pt, err := opened.Decrypt(c.path, got); err != nil || pt != c.plaintext {
				t.Errorf("case %d: Decrypt of Encrypt = %q, %v", i, pt, err)
			}
			raw, _ := base64.StdEncoding.DecodeString(got)
			if pt, err := td.DecryptDeterministically(raw, []byte(c.path)); err != nil || string(pt) != c.plaintext {
				t.Errorf("case %d: Tink's decryption of Encrypt = %q, %v", i, pt, err)
			}
		}
	}
}

// A ciphertext of another key, another path, or altered anywhere does not
// decrypt; nor does one that is too short or not base64.
func TestSIVRefuses(t *testing.T) {
	master := testMaster(t)
	k, _, err := newKey(uuid.New(), master)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := newKey(uuid.New(), master)
	if err != nil {
		t.Fatal(err)
	}
	ct := k.Encrypt("f", "someone@example.com.")
	raw, _ := base64.StdEncoding.DecodeString(ct)
	altered := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	// Another key, with this key's prefix: the SIV must fail, not the prefix.
	foreign, _ := base64.StdEncoding.DecodeString(other.Encrypt("f", "someone@example.com."))
	copy(foreign, raw[:tinkPrefixLen])
	for _, tc := range []struct {
		name, path, ct, want string
	}{
		{"other path", "g", ct, `keys: bad ciphertext: field "g" does not decrypt with key link `},
		{"other key", "f", other.Encrypt("f", "someone@example.com."), `keys: bad ciphertext: field "f" does not decrypt with key link `},
		{"other key, this prefix", "f", base64.StdEncoding.EncodeToString(foreign), `keys: bad ciphertext: field "f" does not decrypt with key link `},
		{"prefix altered", "f", altered(0), `keys: bad ciphertext: field "f" does not decrypt with key link `},
		{"key ID altered", "f", altered(4), `keys: bad ciphertext: field "f" does not decrypt with key link `},
		{"SIV altered", "f", altered(tinkPrefixLen + 3), `keys: bad ciphertext: field "f" does not decrypt with key link `},
		{"ciphertext altered", "f", altered(len(raw) - 1), `keys: bad ciphertext: field "f" does not decrypt with key link `},
		{"too short", "f", base64.StdEncoding.EncodeToString(raw[:sivOverhead-1]), `keys: bad ciphertext: field "f" does not decrypt with key link `},
		{"empty", "f", "", `keys: bad ciphertext: field "f" does not decrypt with key link `},
		{"not base64", "f", "not base64!", `keys: bad ciphertext: field "f" is not base64`},
	} {
		fresh := unwrapSame(t, k, master)
		pt, err := fresh.Decrypt(tc.path, tc.ct)
		want := tc.want
		if strings.HasSuffix(want, "key link ") {
			want += k.ID
		}
		if !errors.Is(err, ErrCiphertext) || err.Error() != want || pt != "" {
			t.Errorf("%s: Decrypt = %q, %v; want %s", tc.name, pt, err, want)
		}
	}
}

// unwrapSame returns a Key of k's keyset with nothing in memory.
func unwrapSame(t *testing.T, k *Key, master tink.AEAD) *Key {
	t.Helper()
	enc, err := master.Encrypt(k.keyset, keysetAD(k.id))
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := proto.Marshal(&tinkpb.EncryptedKeyset{EncryptedKeyset: enc})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := unwrap(&record{id: k.id, wrapped: wrapped}, master)
	if err != nil {
		t.Fatal(err)
	}
	fresh.ID = k.ID
	return fresh
}

// What newKey wraps opens with plain Tink, and what Tink wrapped (as the
// keys package did before it built keysets itself) opens with unwrap: both
// ways the ciphertexts are the same.
func TestWrappedKeysetIsTinks(t *testing.T) {
	master := testMaster(t)
	id := uuid.New()
	k, wrapped, err := newKey(id, master)
	if err != nil {
		t.Fatal(err)
	}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(wrapped)), master, keysetAD(id))
	if err != nil {
		t.Fatalf("Tink does not open the wrapped keyset: %v", err)
	}
	if info := h.KeysetInfo(); len(info.GetKeyInfo()) != 1 || info.GetKeyInfo()[0].GetTypeUrl() != aesSIVTypeURL ||
		info.GetKeyInfo()[0].GetOutputPrefixType() != tinkpb.OutputPrefixType_TINK || info.GetPrimaryKeyId() != info.GetKeyInfo()[0].GetKeyId() {
		t.Errorf("keyset info = %v", info)
	}
	td, err := daead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(wrapped)), master, keysetAD(uuid.New())); err == nil {
		t.Error("the wrapped keyset opens for another link")
	}

	old, err := keyset.NewHandle(daead.AESSIVKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	oldID := uuid.New()
	var buf bytes.Buffer
	if err := old.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), master, keysetAD(oldID)); err != nil {
		t.Fatal(err)
	}
	oldKey, err := unwrap(&record{id: oldID, wrapped: buf.Bytes()}, master)
	if err != nil {
		t.Fatalf("unwrap of a keyset Tink wrapped: %v", err)
	}
	oldTink, err := daead.New(old)
	if err != nil {
		t.Fatal(err)
	}
	// What unwrap keeps for Export is the keyset itself.
	reread := tinkOf(t, oldKey)
	a, _ := oldTink.EncryptDeterministically([]byte("x"), []byte("f"))
	if b, err := reread.EncryptDeterministically([]byte("x"), []byte("f")); err != nil || !bytes.Equal(a, b) {
		t.Errorf("the keyset unwrap kept encrypts to %x, %v; Tink's original to %x", b, err, a)
	}
	for i, c := range sivCases {
		for _, p := range []struct {
			k *Key
			d tink.DeterministicAEAD
		}{{k, td}, {oldKey, oldTink}} {
			want, err := p.d.EncryptDeterministically([]byte(c.plaintext), []byte(c.path))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.k.Encrypt(c.path, c.plaintext); got != base64.StdEncoding.EncodeToString(want) {
				t.Errorf("case %d: Encrypt = %s; Tink gives %s", i, got, base64.StdEncoding.EncodeToString(want))
			}
		}
	}
}

// unwrap takes only a keyset of the form newKey makes, and says which
// rule another breaks.
func TestUnwrapRules(t *testing.T) {
	master := testMaster(t)
	keyValue := func(v *aessivpb.AesSivKey) []byte {
		b, err := proto.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := func() *tinkpb.Keyset_Key {
		return &tinkpb.Keyset_Key{
			KeyData: &tinkpb.KeyData{TypeUrl: aesSIVTypeURL, Value: keyValue(&aessivpb.AesSivKey{KeyValue: make([]byte, 64)}),
				KeyMaterialType: tinkpb.KeyData_SYMMETRIC},
			Status: tinkpb.KeyStatusType_ENABLED, KeyId: 7, OutputPrefixType: tinkpb.OutputPrefixType_TINK,
		}
	}
	with := func(f func(*tinkpb.Keyset_Key)) []*tinkpb.Keyset_Key {
		k := good()
		f(k)
		return []*tinkpb.Keyset_Key{k}
	}
	for _, tc := range []struct {
		name string
		ks   *tinkpb.Keyset
		want string // after "key link <id> holds a keyset that is not a deterministic AEAD "
	}{
		{"no key", &tinkpb.Keyset{PrimaryKeyId: 7}, "(0 keys; want 1)"},
		{"two keys", &tinkpb.Keyset{PrimaryKeyId: 7, Key: []*tinkpb.Keyset_Key{good(), good()}}, "(2 keys; want 1)"},
		{"AES-GCM", &tinkpb.Keyset{PrimaryKeyId: 7, Key: with(func(k *tinkpb.Keyset_Key) {
			k.KeyData.TypeUrl = "type.googleapis.com/google.crypto.tink.AesGcmKey"
		})}, "(the key is not AES-SIV)"},
		{"disabled", &tinkpb.Keyset{PrimaryKeyId: 7, Key: with(func(k *tinkpb.Keyset_Key) {
			k.Status = tinkpb.KeyStatusType_DISABLED
		})}, "(the key is not enabled)"},
		{"not primary", &tinkpb.Keyset{PrimaryKeyId: 8, Key: with(func(*tinkpb.Keyset_Key) {})}, "(the key is not the primary)"},
		{"raw prefix", &tinkpb.Keyset{PrimaryKeyId: 7, Key: with(func(k *tinkpb.Keyset_Key) {
			k.OutputPrefixType = tinkpb.OutputPrefixType_RAW
		})}, "(the key's output prefix is not TINK)"},
		{"key not a proto", &tinkpb.Keyset{PrimaryKeyId: 7, Key: with(func(k *tinkpb.Keyset_Key) {
			k.KeyData.Value = []byte{0xff}
		})}, "(the key is not an AesSivKey)"},
		{"version 1", &tinkpb.Keyset{PrimaryKeyId: 7, Key: with(func(k *tinkpb.Keyset_Key) {
			k.KeyData.Value = keyValue(&aessivpb.AesSivKey{Version: 1, KeyValue: make([]byte, 64)})
		})}, "(AesSivKey version 1; want 0)"},
		{"AES-128-SIV", &tinkpb.Keyset{PrimaryKeyId: 7, Key: with(func(k *tinkpb.Keyset_Key) {
			k.KeyData.Value = keyValue(&aessivpb.AesSivKey{KeyValue: make([]byte, 32)})
		})}, "(AES-SIV key of 32 bytes; want 64)"},
	} {
		id := uuid.New()
		ks, err := proto.Marshal(tc.ks)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := master.Encrypt(ks, keysetAD(id))
		if err != nil {
			t.Fatal(err)
		}
		wrapped, err := proto.Marshal(&tinkpb.EncryptedKeyset{EncryptedKeyset: enc})
		if err != nil {
			t.Fatal(err)
		}
		_, err = unwrap(&record{id: id, wrapped: wrapped}, master)
		want := "keys: corrupt data: key link " + id.String() + " holds a keyset that is not a deterministic AEAD " + tc.want
		if !errors.Is(err, errCorrupt) || err.Error() != want {
			t.Errorf("%s: unwrap = %v; want %s", tc.name, err, want)
		}
	}

	// Not a keyset at all, or wrapped under another master key or link.
	id := uuid.New()
	_, wrapped, err := newKey(id, master)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		id      uuid.UUID
		wrapped []byte
		master  tink.AEAD
	}{
		{"garbage", id, []byte{0xff, 0xff}, master},
		{"other master", id, wrapped, testMaster(t)},
		{"other link", uuid.New(), wrapped, master},
	} {
		_, err := unwrap(&record{id: tc.id, wrapped: tc.wrapped}, tc.master)
		want := "keys: master key: the keyset of key link " + tc.id.String() + " does not open under it (corrupt data dir?)"
		if !errors.Is(err, ErrMaster) || err.Error() != want {
			t.Errorf("%s: unwrap = %v; want %s", tc.name, err, want)
		}
	}
}

// newKey's protos are the bytes proto.Marshal gives for the same
// messages, for key IDs of every varint length.
func TestKeysetEncoding(t *testing.T) {
	key := make([]byte, sivKeyLen)
	for i := range key {
		key[i] = byte(i)
	}
	for _, id := range []uint32{1, 127, 128, 1 << 14, 1 << 21, 1 << 28, 1<<32 - 1} {
		keyValue, err := proto.Marshal(&aessivpb.AesSivKey{KeyValue: key})
		if err != nil {
			t.Fatal(err)
		}
		want, err := proto.Marshal(&tinkpb.Keyset{
			PrimaryKeyId: id,
			Key: []*tinkpb.Keyset_Key{{
				KeyData:          &tinkpb.KeyData{TypeUrl: aesSIVTypeURL, Value: keyValue, KeyMaterialType: tinkpb.KeyData_SYMMETRIC},
				Status:           tinkpb.KeyStatusType_ENABLED,
				KeyId:            id,
				OutputPrefixType: tinkpb.OutputPrefixType_TINK,
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendKeyset(nil, key, id); !bytes.Equal(got, want) {
			t.Errorf("key ID %d: appendKeyset = %x; proto.Marshal gives %x", id, got, want)
		}
		enc := []byte("wrapped keyset bytes")
		want, err = proto.Marshal(&tinkpb.EncryptedKeyset{
			EncryptedKeyset: enc,
			KeysetInfo: &tinkpb.KeysetInfo{
				PrimaryKeyId: id,
				KeyInfo: []*tinkpb.KeysetInfo_KeyInfo{{
					TypeUrl: aesSIVTypeURL, Status: tinkpb.KeyStatusType_ENABLED,
					KeyId: id, OutputPrefixType: tinkpb.OutputPrefixType_TINK,
				}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEncryptedKeyset(nil, enc, id); !bytes.Equal(got, want) {
			t.Errorf("key ID %d: appendEncryptedKeyset = %x; proto.Marshal gives %x", id, got, want)
		}
	}
}
