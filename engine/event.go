package engine

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// vkind is the dynamic type of one value of an event.
type vkind uint8

const (
	vAbsent vkind = iota // no value: a field of a null record, or a JSON property not given
	vNull
	vBool   // num: 0 or 1
	vInt    // num: the int32 sign-extended to int64 bits
	vLong   // num: int64 bits
	vFloat  // num: float32 bits
	vDouble // num: float64 bits
	vString // str
	vBytes  // str holds the bytes
	vFixed  // str holds the bytes
	vEnum   // num: symbol index, str: symbol
	vArray  // vals[first : first+count] are the elements
	vMap    // vals[first : first+2*count] are key, value pairs
	vRecord // vals[first : first+count] are the fields in schema order
	vNumber // JSON Schema events: str is the number as written
	vObject // JSON Schema events: vals[first : first+2*count] are key, value pairs in document order
)

// value is one node of an event. Children are referenced by index into
// Event.vals rather than by pointer or slice, so that decoding can append to
// one arena without invalidating earlier references. Containers keep their
// first child and count in num, which keeps a value at 32 bytes.
type value struct {
	kind   vkind
	branch int32 // Avro union branch of this value, where the plan has a union
	num    uint64
	str    string
}

// container builds an array, map, record or object value whose children are
// vals[off:off+cnt] (pairs for maps and objects: 2*cnt slots).
func container(k vkind, off int32, cnt int) value {
	return value{kind: k, num: uint64(uint32(off)) | uint64(cnt)<<32}
}

// first returns the index of a container's first child.
func (v value) first() int { return int(uint32(v.num)) }

// count returns the number of a container's children (pairs for maps and objects).
func (v value) count() int { return int(v.num >> 32) }

// Event is one decoded event. Strings are substrings of a single copy of the
// body, so decoding allocates little and replacing a field only swaps one
// string. An Event is not safe for concurrent mutation.
type Event struct {
	schema *Schema
	vals   []value // vals[0] is the top-level record or object
}

// Schema returns the schema the event was decoded with.
func (e *Event) Schema() *Schema { return e.schema }

// Clone returns an independent copy; strings are shared, which is safe
// because they are immutable.
func (e *Event) Clone() *Event {
	return &Event{schema: e.schema, vals: append([]value(nil), e.vals...)}
}

// GetString returns the string at f. ok is false when the value is null or
// absent (a parent record is null, or a JSON property is not given), and when
// f is not a string field of this event's schema.
func (e *Event) GetString(f Field) (s string, ok bool) {
	if f.schema != e.schema || f.Kind != KindString {
		return "", false
	}
	i := e.slot(f)
	if i < 0 || e.vals[i].kind != vString {
		return "", false
	}
	return e.vals[i].str, true
}

// SetString replaces the value at the string field f; a null nullable string
// becomes a string. It fails when f is not a string field of this schema, when
// the field is absent because a parent record is null, and when s is not
// valid UTF-8 (every serialization requires UTF-8 strings).
func (e *Event) SetString(f Field, s string) error {
	if f.schema != e.schema {
		return fmt.Errorf("%w: field '%s' belongs to schema '%s', not '%s'", ErrField, f.Path, f.schema.refString(), e.schema.ref)
	}
	if f.Kind != KindString {
		return fmt.Errorf("%w: field '%s' is %s, not a string", ErrField, f.Path, f)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: value for field '%s' is not valid UTF-8", ErrField, f.Path)
	}
	return e.setValue(f, value{kind: vString, str: s})
}

// GetStringPath is GetString by path.
func (e *Event) GetStringPath(path string) (s string, ok bool, err error) {
	f, err := e.stringField(path)
	if err != nil {
		return "", false, err
	}
	s, ok = e.GetString(f)
	return s, ok, nil
}

// SetStringPath is SetString by path.
func (e *Event) SetStringPath(path, s string) error {
	f, err := e.stringField(path)
	if err != nil {
		return err
	}
	return e.SetString(f, s)
}

func (e *Event) stringField(path string) (Field, error) {
	f, ok := e.schema.Field(path)
	if !ok {
		return Field{}, fmt.Errorf("%w: field '%s' does not exist in schema '%s'", ErrField, path, e.schema.ref)
	}
	if f.Kind != KindString {
		return Field{}, fmt.Errorf("%w: field '%s' is %s, not a string", ErrField, path, f)
	}
	return f, nil
}

// ContractRef returns strmMeta.eventContractRef ("" when not given).
func (e *Event) ContractRef() string {
	if i := e.metaSlot(metaContractRef); i >= 0 && e.vals[i].kind == vString {
		return e.vals[i].str
	}
	return ""
}

// ConsentLevels returns strmMeta.consentLevels in event order.
func (e *Event) ConsentLevels() []int32 {
	i := e.metaSlot(metaConsent)
	if i < 0 {
		return nil
	}
	arr := e.vals[i]
	if arr.kind != vArray {
		return nil
	}
	out := make([]int32, arr.count())
	for i := range out {
		out[i] = int32(e.intAt(int(arr.first()) + i))
	}
	return out
}

// intAt reads an integer value. JSON Schema numbers were validated against
// the schema, whose strmMeta types are checked at compile time; a value
// beyond int64 is clamped.
func (e *Event) intAt(i int) int64 {
	v := e.vals[i]
	if v.kind == vNumber {
		n, _ := jsonInt(v.str)
		return n
	}
	return int64(v.num)
}

// jsonInt reads a JSON number that JSON Schema counts as an integer, such as
// 12, 1.0 or 1e2. ok is false for a fraction; values beyond int64 are clamped.
func jsonInt(lit string) (n int64, ok bool) {
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	switch {
	case f != math.Trunc(f):
		return 0, false
	case f >= math.MaxInt64:
		return math.MaxInt64, true
	case f <= math.MinInt64:
		return math.MinInt64, true
	}
	return int64(f), true
}

// Nonce returns strmMeta.nonce; ok is false when it is null.
func (e *Event) Nonce() (n int32, ok bool) {
	i := e.metaSlot(metaNonce)
	if i < 0 || (e.vals[i].kind != vInt && e.vals[i].kind != vNumber) {
		return 0, false
	}
	return int32(e.intAt(i)), true
}

// SetNonce sets strmMeta.nonce.
func (e *Event) SetNonce(n int32) {
	e.setMetaInt(metaNonce, int64(n))
}

// Timestamp returns strmMeta.timestamp (ms since the epoch); ok is false when
// it is null.
func (e *Event) Timestamp() (ms int64, ok bool) {
	i := e.metaSlot(metaTimestamp)
	if i < 0 || (e.vals[i].kind != vLong && e.vals[i].kind != vNumber) {
		return 0, false
	}
	return e.intAt(i), true
}

// SetTimestamp sets strmMeta.timestamp (ms since the epoch).
func (e *Event) SetTimestamp(ms int64) {
	e.setMetaInt(metaTimestamp, ms)
}

// KeyLink returns strmMeta.keyLink; ok is false when it is null.
func (e *Event) KeyLink() (s string, ok bool) {
	i := e.metaSlot(metaKeyLink)
	if i < 0 || e.vals[i].kind != vString {
		return "", false
	}
	return e.vals[i].str, true
}

// SetKeyLink sets strmMeta.keyLink; s must be valid UTF-8.
func (e *Event) SetKeyLink(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: keyLink is not valid UTF-8", ErrField)
	}
	return e.setValue(e.schema.meta[metaKeyLink], value{kind: vString, str: s})
}

// setMetaInt sets strmMeta nonce or timestamp. strmMeta is required, so this
// fails only for an event from DecodeStored that does not match its schema;
// there is nothing to set then.
func (e *Event) setMetaInt(m metaField, n int64) {
	_ = e.setValue(e.schema.meta[m], value{kind: vLong, num: uint64(n)})
}

func (s *Schema) refString() string {
	if s == nil {
		return "<none>"
	}
	return s.ref.String()
}
