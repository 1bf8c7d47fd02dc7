package engine

import (
	"fmt"
	"slices"
	"strings"
)

const (
	// maxDepth bounds nesting of records, arrays, maps and JSON containers, so
	// that hostile input cannot exhaust the stack.
	maxDepth = 64
	// maxValues bounds the values one event may hold. An event may also hold
	// at most valuesPerByte values per body byte (plus slack), so that a small
	// body claiming a huge array of zero-size items (null, empty records)
	// cannot make the decoder allocate far more than it received. Every other
	// value takes at least one byte, and defaults of omitted JSON fields stay
	// well within the ratio.
	maxValues     = 1 << 20
	valuesPerByte = 64
	valuesSlack   = 1024
	// extraSlots is room reserved past the fixed part for array and map
	// contents, sized for typical events to avoid a regrowth.
	extraSlots = 16
)

// decoder holds the state of one decode. Decoders are pooled per schema; only
// the scratch stack and key set survive between uses.
type decoder struct {
	schema *Schema
	raw    string // the body, copied once; every decoded string is a substring of it
	pos    int
	depth  int
	vals   []value
	stack  []value // elements of arrays and maps being decoded, before they move to vals
	limit  int     // most values this event may hold, from maxValues and the body size
	// consentMax is the most values strmMeta.consentLevels may hold, 0 for
	// no limit of its own (see consentLimit).
	consentMax int
	keys       map[string]struct{}
	// wellFormed: the JSON decoder read the body to its end, so it is
	// well-formed JSON (see syntaxError).
	wellFormed bool
}

// maxPooledStack bounds the scratch stack a pooled decoder keeps, so that
// one huge event does not pin its memory.
const maxPooledStack = 4096

// pathError is a decode failure at a field. Segments are collected innermost
// first as the error unwinds, so the happy path never builds a path.
type pathError struct {
	segs []string
	msg  string // follows the quoted path
	bare bool   // msg continues "field 'p'" directly instead of after a colon
	// syntax: the body is not well-formed JSON; msg says where ("invalid
	// JSON at byte N: ..."), and no field is named.
	syntax bool
}

func (e *pathError) Error() string { return e.message() }

func (e *pathError) path() string {
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		s := e.segs[i]
		if b.Len() > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('/')
		}
		b.WriteString(s)
	}
	return b.String()
}

func (e *pathError) message() string {
	if len(e.segs) == 0 {
		return e.msg
	}
	if e.bare {
		return "field '" + e.path() + "' " + e.msg
	}
	return "field '" + e.path() + "': " + e.msg
}

func errf(format string, args ...any) error {
	return &pathError{msg: fmt.Sprintf(format, args...)}
}

func fieldErr(name, msg string) error {
	return &pathError{segs: []string{name}, msg: msg, bare: true}
}

// inField records that err happened inside the named field.
func inField(err error, name string) error {
	if pe, ok := err.(*pathError); ok && !pe.syntax {
		pe.segs = append(pe.segs, name)
	}
	return err
}

func inIndex(err error, i int) error {
	return inField(err, fmt.Sprintf("[%d]", i))
}

// Decode decodes one event body. Avro schemas take one bare Avro binary datum,
// or lenient JSON (nullable fields may be omitted, union values may be given
// bare or type-wrapped). JSON Schema schemas take JSON, validated against the
// schema. Failures are *RejectError matching ErrInvalidEvent, naming the field
// and what was wrong.
func (s *Schema) Decode(ser Serialization, body []byte) (*Event, error) {
	return s.decode(ser, body, true)
}

// DecodeStored decodes an event this package encoded (Event.Encode), such as
// one read back from the log. It skips JSON Schema validation: the event was
// validated before its PII fields were replaced by ciphertext, and ciphertext
// need not satisfy the schema's string constraints (pattern, format,
// maxLength). Syntax, UTF-8 and nesting are still checked.
func (s *Schema) DecodeStored(body []byte) (*Event, error) {
	return s.decode(s.DefaultSerialization(), body, false)
}

func (s *Schema) decode(ser Serialization, body []byte, validate bool) (*Event, error) {
	return s.decodeInto(nil, ser, body, validate)
}

// decodeInto is decode with the event's values in slab (nil: memory of
// their own).
func (s *Schema) decodeInto(slab *Slab, ser Serialization, body []byte, validate bool) (*Event, error) {
	d, _ := s.decoders.Get().(*decoder)
	if d == nil {
		d = &decoder{schema: s}
	}
	var room []value
	if slab != nil {
		room = slab.room(s)
	}
	vals, err := d.run(ser, string(body), validate, room)
	var ev *Event
	if slab != nil && err == nil {
		ev = slab.event()
		*ev = Event{schema: s, vals: slab.took(s, room, vals)}
	} else {
		ev = &Event{schema: s, vals: vals}
	}
	// Drop every reference into this body before pooling, so a pooled decoder
	// does not keep event data alive.
	if cap(d.stack) > maxPooledStack {
		d.stack = nil
	}
	clear(d.stack[:cap(d.stack)])
	clear(d.keys)
	d.stack = d.stack[:0]
	s.decoders.Put(d)
	if err != nil {
		return nil, s.reject(err)
	}
	return ev, nil
}

// run decodes body into vals, reused when it has room (nil: new memory),
// and returns the event's values, whose strings are substrings of body. The
// decoder keeps no reference to them, nor to the body.
func (d *decoder) run(ser Serialization, body string, validate bool, vals []value) ([]value, error) {
	d.raw, d.pos, d.depth, d.wellFormed = body, 0, 0, false
	d.limit = min(maxValues, valuesSlack+valuesPerByte*len(body))
	d.consentMax = consentLimit(validate)
	d.vals = vals[:0]

	err := d.schema.codec.decode(d, ser, validate)
	if err != nil && ser == JSON && !d.wellFormed {
		// Syntax first: a body that is not JSON is refused as such, at the
		// byte where it breaks, whatever the schema-driven decode tripped
		// on before it got there. Only failed decodes pay for this scan.
		if serr := d.syntaxError(); serr != nil {
			err = serr
		}
	}
	vals = d.vals
	d.raw, d.vals = "", nil
	return vals, err
}

// startVals returns d.vals as n zero values with room for extra more,
// reusing its memory when it has the room.
func (d *decoder) startVals(n, extra int) []value {
	if cap(d.vals) < n+extra {
		return make([]value, n, n+extra)
	}
	v := d.vals[:n]
	clear(v)
	return v
}

// unsupported is the refusal of a serialization the schema's codec does not
// take.
func (d *decoder) unsupported(ser Serialization) error {
	s := d.schema
	return &RejectError{Rule: RuleSerialization, kind: ErrInvalidEvent,
		Msg: fmt.Sprintf("serialization %s is not supported for %s schema '%s'", ser, s.typ, s.ref)}
}

func (s *Schema) reject(err error) error {
	pe, ok := err.(*pathError)
	if !ok {
		return err
	}
	return &RejectError{
		Field: pe.path(),
		Rule:  RuleDecode,
		Msg:   fmt.Sprintf("event does not match schema '%s': %s", s.ref, pe.message()),
		kind:  ErrInvalidEvent,
	}
}

// reserve appends n absent values and returns the index of the first.
func (d *decoder) reserve(n int) (int32, error) {
	if len(d.vals)+len(d.stack)+n > d.limit {
		return 0, d.tooMany()
	}
	off := len(d.vals)
	d.vals = slices.Grow(d.vals, n)[:off+n]
	clear(d.vals[off:])
	return int32(off), nil
}

// flush moves the stack entries from base on to the end of vals, making them
// contiguous children, and returns where they start.
func (d *decoder) flush(base int) int32 {
	off := len(d.vals)
	d.vals = append(d.vals, d.stack[base:]...)
	d.stack = d.stack[:base]
	return int32(off)
}

func (d *decoder) push(v value) error {
	if len(d.vals)+len(d.stack) >= d.limit {
		return d.tooMany()
	}
	d.stack = append(d.stack, v)
	return nil
}

func (d *decoder) tooMany() error {
	return errf("event holds more than %d values", d.limit)
}

// room returns how many more values the event may hold.
func (d *decoder) room() int { return d.limit - len(d.vals) - len(d.stack) }

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return errf("nesting exceeds %d levels", maxDepth)
	}
	return nil
}

// checkDupKeys refuses a map or object whose keys, the stack entries
// base, base+2, ..., repeat one another.
func (d *decoder) checkDupKeys(base int) error {
	n := (len(d.stack) - base) / 2
	if n < 2 {
		return nil
	}
	if n <= 8 {
		for i := 1; i < n; i++ {
			k := d.stack[base+2*i].str
			for j := 0; j < i; j++ {
				if d.stack[base+2*j].str == k {
					return fieldErr(k, "appears more than once")
				}
			}
		}
		return nil
	}
	if d.keys == nil {
		d.keys = make(map[string]struct{}, n)
	}
	clear(d.keys)
	for i := range n {
		k := d.stack[base+2*i].str
		if _, dup := d.keys[k]; dup {
			return fieldErr(k, "appears more than once")
		}
		d.keys[k] = struct{}{}
	}
	return nil
}
