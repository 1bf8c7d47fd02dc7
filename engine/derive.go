package engine

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/murmur3"
)

// Derived streams (docs/pipeline.md, "Egress and derived streams") are
// computed when read: the stored, encrypted event goes through View.Apply on
// its way out, so no plaintext copy is ever stored. This file holds that
// logic; reading the log and finding keys are the caller's.

// ConsentType says how a derived stream reads its consent levels.
type ConsentType uint8

// Consent types.
const (
	// Cumulative: one level L; an event is kept when its highest consent level
	// is >= L, and PII fields of levels <= L are decrypted.
	Cumulative ConsentType = iota + 1
	// Granular: a set S; an event is kept when its consent levels include all
	// of S, and exactly the PII fields whose level is in S are decrypted.
	Granular
)

// String returns the platform's name: CUMULATIVE or GRANULAR.
func (t ConsentType) String() string {
	switch t {
	case Cumulative:
		return "CUMULATIVE"
	case Granular:
		return "GRANULAR"
	}
	return "ConsentType(" + strconv.Itoa(int(t)) + ")"
}

// ParseConsentType accepts CUMULATIVE and GRANULAR in any case.
func ParseConsentType(s string) (ConsentType, error) {
	switch strings.ToUpper(s) {
	case "CUMULATIVE":
		return Cumulative, nil
	case "GRANULAR":
		return Granular, nil
	}
	return 0, viewError("type", "type: unknown consent type '%s' (want cumulative or granular)", s)
}

// View is the definition of a derived stream as far as events are concerned:
// which events it keeps and what it shows of them.
type View struct {
	Type ConsentType
	// Levels: exactly one level for Cumulative, a set for Granular; every
	// level >= 0.
	Levels []int32
	// Masked maps a contract ref ("handle/name/version") to the paths of the
	// fields to mask in events of that contract. Masked fields need not be
	// PII; they must be string or nullable string fields outside strmMeta.
	Masked map[string][]string
	// Seed seeds the mask hash (see Mask). It is a secret of the stream:
	// whoever knows it can test guesses against masked values.
	Seed string
	// Emit, when set, keeps only the events whose value at its path (as
	// the view shows the event) is one of its values (Emits).
	Emit *EmitFilter
}

// Emits reports whether the view's emit filter keeps ev, an event Apply
// made into this view: always without a filter.
func (v View) Emits(ev *Event) bool { return v.Emit == nil || v.Emit.emits(ev) }

// Validate checks the view on its own (CheckMasked checks masked paths
// against a contract). Every problem is reported, as one *DefinitionError
// (ErrInvalidView) per problem joined with errors.Join; each names the field
// and the rule, e.g.
// "levels: a CUMULATIVE stream takes exactly one level (got 0,1); use --consent-type granular for a set of levels".
func (v View) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, viewError(field, format, args...))
	}
	switch v.Type {
	case Cumulative, Granular:
	case 0:
		add("type", "type: is required (CUMULATIVE or GRANULAR)")
	default:
		add("type", "type: unknown consent type %d (want CUMULATIVE or GRANULAR)", uint8(v.Type))
	}

	if len(v.Levels) == 0 {
		add("levels", "levels: at least one consent level is required")
	}
	for i, l := range v.Levels {
		switch {
		case l < 0:
			add("levels", "levels: %d is not a valid consent level (must be >= 0)", l)
		case slices.Index(v.Levels, l) < i:
			if slices.Index(v.Levels[i+1:], l) < 0 { // report each duplicate once
				add("levels", "levels: %d is listed more than once", l)
			}
		}
	}
	if v.Type == Cumulative && len(v.Levels) > 1 {
		add("levels", "levels: a CUMULATIVE stream takes exactly one level (got %s); use --consent-type granular for a set of levels", joinLevels(v.Levels, ","))
	}

	for _, ref := range slices.Sorted(maps.Keys(v.Masked)) {
		if _, err := ParseRef(ref); err != nil {
			add("masked", "masked: '%s' is not a contract ref: %v", ref, err)
			continue
		}
		paths := v.Masked[ref]
		for i := range paths {
			if msg := maskedProblem(ref, paths, i, nil); msg != "" {
				add("masked", "%s", msg)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// CheckMasked checks the masked paths the view lists for cc's contract
// against cc's schema: each must exist and be a string or nullable string
// field. Problems are reported as Validate reports them.
func (v View) CheckMasked(cc *CompiledContract) error {
	ref := cc.contract.Ref.String()
	paths := v.Masked[ref]
	var errs []error
	for i := range paths {
		if msg := maskedProblem(ref, paths, i, cc.schema); msg != "" {
			errs = append(errs, viewError("masked", "%s", msg))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// maskedProblem describes what is wrong with paths[i], masked for contract
// ref, or returns "". With s nil the path is not looked up in a schema.
func maskedProblem(ref string, paths []string, i int, s *Schema) string {
	p := paths[i]
	switch {
	case p == "":
		return fmt.Sprintf("masked: contract '%s' lists an empty field path", ref)
	case p == "strmMeta" || strings.HasPrefix(p, "strmMeta/"):
		return fmt.Sprintf("masked: '%s' (contract '%s') is part of strmMeta, which is never masked", p, ref)
	case slices.Index(paths, p) < i:
		return fmt.Sprintf("masked: '%s' (contract '%s') is listed more than once", p, ref)
	case s == nil:
		return ""
	}
	f, ok := s.Field(p)
	if !ok {
		return fmt.Sprintf("masked: '%s' (contract '%s') does not exist in schema '%s'", p, ref, s.ref)
	}
	if !f.IsString() {
		return fmt.Sprintf("masked: '%s' (contract '%s') must be a string or nullable string, but is %s", p, ref, f)
	}
	return ""
}

func viewError(field, format string, args ...any) error {
	return &DefinitionError{Field: field, Msg: fmt.Sprintf(format, args...), kind: ErrInvalidView}
}

func joinLevels(levels []int32, sep string) string {
	var b []byte
	for i, l := range levels {
		if i > 0 {
			b = append(b, sep...)
		}
		b = strconv.AppendInt(b, int64(l), 10)
	}
	return string(b)
}

// Keeps reports whether the view receives an event with these consent
// levels: for Cumulative L, max(consent) >= L; for Granular S, consent
// includes every level of S. An event with no consent levels is never kept,
// nor is any event by a view whose type or levels are invalid.
func (v View) Keeps(consent []int32) bool {
	if len(consent) == 0 || len(v.Levels) == 0 {
		return false
	}
	switch v.Type {
	case Cumulative:
		return len(v.Levels) == 1 && slices.Max(consent) >= v.Levels[0]
	case Granular:
		for _, l := range v.Levels {
			if !slices.Contains(consent, l) {
				return false
			}
		}
		return true
	}
	return false
}

// Decrypts reports whether the view shows PII fields of this consent level in
// plaintext: for Cumulative L, level <= L; for Granular S, level is in S.
func (v View) Decrypts(level int) bool {
	if level < 0 {
		return false
	}
	switch v.Type {
	case Cumulative:
		return len(v.Levels) == 1 && int64(level) <= int64(v.Levels[0])
	case Granular:
		for _, l := range v.Levels {
			if int64(l) == int64(level) {
				return true
			}
		}
	}
	return false
}

// keepsEvent is Keeps on ev's own strmMeta.consentLevels, without allocating
// for up to 16 levels.
func (v View) keepsEvent(ev *Event) bool {
	i := ev.metaSlot(metaConsent)
	if i < 0 {
		return false
	}
	arr := ev.vals[i]
	if arr.kind != vArray {
		return false
	}
	var buf [16]int32
	consent := buf[:0]
	for j := range arr.count() {
		consent = append(consent, int32(ev.intAt(arr.first()+j)))
	}
	return v.Keeps(consent)
}

// Decrypter decrypts one PII value that an Encrypter produced with the same
// path. Its errors must not quote the plaintext or the ciphertext; the keys
// package's *keys.Key implements it.
type Decrypter interface {
	Decrypt(path, ciphertext string) (string, error)
}

// Applied reports what View.Apply did to one event. Paths are in the order of
// CompiledContract.PIIFields (sorted by path); Masked is sorted by path too.
// Fields whose value is null or absent are in none of the lists.
type Applied struct {
	Decrypted []string // PII fields now in plaintext
	Masked    []string // fields now holding the mask of their plaintext
	Encrypted []string // PII fields left as ciphertext
	// Shredded: the view covers some PII value of the event, but there was
	// no key to decrypt it with (dec was nil: the key was deleted by retention
	// or by forgetting the person). Derived streams say so on the record
	// (docs/pipeline.md, "Egress and derived streams").
	Shredded bool
}

// Apply turns a stored (encrypted) event of contract cc into this view of it,
// in place:
//   - PII fields whose level the view decrypts (Decrypts) are decrypted with
//     dec; other PII fields stay ciphertext;
//   - masked fields (Masked[cc's ref]) that hold plaintext after that, PII
//     or not, are replaced by Mask(v.Seed, value);
//   - null and absent values, non-PII fields and strmMeta pass unchanged.
//
// dec == nil means the event's key is gone (crypto-shredded): nothing is
// decrypted, and Applied.Shredded says whether the view lost anything by it.
//
// A masked PII field that stays ciphertext (the view does not decrypt its
// level, or the key is gone) is not masked: a mask of a ciphertext leaks
// nothing, but it would look like a mask of the value while matching no
// other mask of that value (ciphertexts change with each key period), so the
// field is left visibly encrypted and listed in Encrypted.
//
// Apply refuses (ErrNotInView) an event whose own consent levels the view
// does not keep, so a caller that forgets to filter with Keeps still cannot
// decrypt beyond the consent given; it refuses (ErrInvalidView) masked paths
// that are not string fields of cc's schema (see CheckMasked), and (ErrField)
// an event of another schema. These checks come before any change. A
// decryption failure (ErrDecrypt, naming the field and never the value) can
// come after other fields were decrypted: on error, discard ev.
func (v View) Apply(ev *Event, cc *CompiledContract, dec Decrypter) (Applied, error) {
	if ev.schema != cc.schema {
		return Applied{}, cc.schemaMismatch(ev)
	}
	if !v.keepsEvent(ev) {
		return Applied{}, fmt.Errorf("%w: stream %s %s does not keep this event of contract '%s'",
			ErrNotInView, v.Type, joinLevels(v.Levels, ","), cc.contract.Ref)
	}
	var masked []string
	if len(v.Masked) > 0 {
		ref := cc.contract.Ref.String()
		masked = v.Masked[ref]
		for i := range masked {
			if msg := maskedProblem(ref, masked, i, cc.schema); msg != "" {
				return Applied{}, viewError("masked", "%s", msg)
			}
		}
	}

	// One allocation holds the three lists, each within its own bound.
	var a Applied
	if n, m := len(cc.pii), len(masked); n+m > 0 {
		all := make([]string, 2*n+m)
		a.Decrypted, a.Encrypted, a.Masked = all[:0:n], all[n:n:2*n], all[2*n:2*n:2*n+m]
	}

	var s1, s2 uint64 // the mask seed, hashed when first needed
	seeded := false
	mask := func(value string) string {
		if !seeded {
			s1, s2 = murmur3.StringSum128(v.Seed)
			seeded = true
		}
		return maskWith(s1, s2, value)
	}

	for _, p := range cc.pii {
		path := p.Field.Path
		ct, ok := ev.GetString(p.Field)
		if !ok {
			continue
		}
		if !v.Decrypts(p.Level) {
			a.Encrypted = append(a.Encrypted, path)
			continue
		}
		if dec == nil {
			a.Shredded = true
			a.Encrypted = append(a.Encrypted, path)
			continue
		}
		pt, err := dec.Decrypt(path, ct)
		if err != nil {
			return Applied{}, fmt.Errorf("%w: field '%s' of contract '%s': %w", ErrDecrypt, path, cc.contract.Ref, err)
		}
		if slices.Contains(masked, path) {
			pt = mask(pt)
			a.Masked = append(a.Masked, path)
		} else {
			a.Decrypted = append(a.Decrypted, path)
		}
		if err := ev.SetString(p.Field, pt); err != nil {
			return Applied{}, err // plaintext not valid UTF-8; the error does not quote it
		}
	}

	for _, path := range masked {
		if cc.isPII(path) {
			continue // handled above
		}
		f, _ := cc.schema.Field(path) // checked above
		val, ok := ev.GetString(f)
		if !ok {
			continue
		}
		if err := ev.SetString(f, mask(val)); err != nil {
			return Applied{}, err
		}
		a.Masked = append(a.Masked, path)
	}
	slices.Sort(a.Masked)

	for _, l := range []*[]string{&a.Decrypted, &a.Masked, &a.Encrypted} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return a, nil
}

func (cc *CompiledContract) isPII(path string) bool {
	for _, p := range cc.pii {
		if p.Field.Path == path {
			return true
		}
	}
	return false
}

// Mask returns the mask of value under seed: the lowercase hex of the 16-byte
// MurmurHash3 x64-128 digest of value (its UTF-8 bytes), seeded with the
// 128-bit MurmurHash3 x64-128 of seed itself.
//
// In full: (s1, s2) = MurmurHash3_x64_128(seed, seeds 0, 0);
// (h1, h2) = MurmurHash3_x64_128(value, seeds s1, s2); the digest is h1 then
// h2, each little-endian, the byte order of the reference implementation,
// Guava's HashCode.toString and Python's mmh3.hash_bytes. An empty seed gives
// s1 = s2 = 0, so its masks are plain unseeded MurmurHash3 x64-128, which any
// implementation reproduces. Hashing the seed string, rather than parsing a
// number from it, lets any string be a seed and uses all 128 bits of the
// hash's state.
func Mask(seed, value string) string {
	s1, s2 := murmur3.StringSum128(seed)
	return maskWith(s1, s2, value)
}

func maskWith(s1, s2 uint64, value string) string {
	h1, h2 := murmur3.SeedStringSum128(s1, s2, value)
	var digest [16]byte
	binary.LittleEndian.PutUint64(digest[:8], h1)
	binary.LittleEndian.PutUint64(digest[8:], h2)
	var out [32]byte
	hex.Encode(out[:], digest[:])
	return string(out[:])
}
