package engine

import (
	"fmt"
	"unicode/utf8"
)

// Encrypter encrypts one PII value (docs/pipeline.md, "Keys"). path, the
// field's '/'-separated path, is the associated data, so that a ciphertext
// moved to another field does not decrypt. Encryption is deterministic per key: the same plaintext
// and path give the same ciphertext. The keys package's *keys.Key implements
// it; engine does not import keys.
type Encrypter interface {
	Encrypt(path, plaintext string) string
}

// Encrypt is step 5 of ingest (docs/pipeline.md, "Ingest"): it replaces the
// value of every PII field of ev (per PIIFields) that is not null with enc's
// ciphertext of it. Null values, and fields absent because a parent record is
// null or a JSON property is not given, stay as they are. An empty string is
// a value and is encrypted.
//
// Call it after Check, and read KeyValue and DataSubjectValue first: the key
// and data-subject fields are often PII themselves and hold ciphertext
// afterwards. Setting nonce, timestamp and keyLink is the caller's job
// (Event.SetNonce, SetTimestamp, SetKeyLink).
//
// Encrypt changes every PII field or none: all ciphertexts are computed and
// checked before the first is stored, so a failure never leaves plaintext and
// ciphertext mixed in one event. It fails (ErrField) when ev is not of the
// contract's schema or enc returns a ciphertext that is not valid UTF-8;
// errors never quote a value.
func (cc *CompiledContract) Encrypt(ev *Event, enc Encrypter) error {
	if ev.schema != cc.schema {
		return cc.schemaMismatch(ev)
	}
	type pending struct {
		ct string
		ok bool // the field has a value to replace
	}
	var buf [8]pending // enough for most contracts without allocating
	cts := buf[:0]
	for _, p := range cc.pii {
		pt, ok := ev.GetString(p.Field)
		if !ok {
			cts = append(cts, pending{})
			continue
		}
		ct := enc.Encrypt(p.Field.Path, pt)
		if !utf8.ValidString(ct) {
			return fmt.Errorf("%w: ciphertext for field '%s' is not valid UTF-8", ErrField, p.Field.Path)
		}
		cts = append(cts, pending{ct: ct, ok: true})
	}
	for i, p := range cc.pii {
		if !cts[i].ok {
			continue
		}
		// Cannot fail: the field is a present string of this schema and the
		// ciphertext is valid UTF-8.
		if err := ev.SetString(p.Field, cts[i].ct); err != nil {
			return err
		}
	}
	return nil
}

// KeyValue returns the value of the contract's key field in ev; ok is false
// when it is null or absent, or ev is of another schema. Read it before
// Encrypt when the key field is PII: the key link is found by the plaintext.
func (cc *CompiledContract) KeyValue(ev *Event) (string, bool) {
	return ev.GetString(cc.key)
}

// DataSubjectValue returns the value of the contract's data-subject field in
// ev; ok is false when the contract has none, the value is null or absent, or
// ev is of another schema. Read it before Encrypt, as for KeyValue.
func (cc *CompiledContract) DataSubjectValue(ev *Event) (string, bool) {
	if !cc.hasSubject {
		return "", false
	}
	return ev.GetString(cc.dataSubject)
}

func (cc *CompiledContract) schemaMismatch(ev *Event) error {
	return fmt.Errorf("%w: event contract '%s' is for schema '%s', not for the event's schema '%s'",
		ErrField, cc.contract.Ref, cc.schemaRef, ev.schema.refString())
}
